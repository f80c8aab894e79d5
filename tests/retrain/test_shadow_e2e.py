"""The shadow phase on real parts: bentoml serve, the monitor and replayed real flights with late labels."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
import sqlalchemy as sa

from driftline.core import load_dataset
from driftline.core.store import predictions, shadow_predictions
from tests.processes import wait_for
from tests.retrain.conftest import STRICT_GUARDRAIL, ConcurrentClients, Stack

pytestmark = pytest.mark.integration


def decided_candidates(stack: Stack, seconds: float = 240) -> list[str]:
    """The statuses of candidate shadows once one has ended in a promotion or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        ended = [s["status"] for s in stack.registry.store.shadow_history() if s["purpose"] == "candidate"]
        if "promoted" in ended or time.monotonic() > deadline:
            return ended
        time.sleep(1)


def versions_answering_shadowed(stack: Stack, shadow_id: int) -> set[int]:
    """The versions whose answers clients got for the requests a shadow predicted too."""
    query = (
        sa.select(predictions.c.model_version)
        .distinct()
        .select_from(predictions.join(shadow_predictions, shadow_predictions.c.request_id == predictions.c.request_id))
        .where(shadow_predictions.c.shadow_id == shadow_id)
    )
    with stack.registry.store.engine.connect() as conn:
        return set(conn.execute(query).scalars())


def client_rows(stack: Stack) -> list[dict[str, object]]:
    """Every 97th live flight as a /predict row, for the clients calling beside the replay."""
    live = load_dataset(stack.settings.data).live
    features = list(stack.settings.data.features.numeric) + list(stack.settings.data.features.categorical)
    records = live.iloc[::97][features].to_dict("records")
    return [{k: (None if v != v else v) for k, v in row.items()} for row in records]


# version 1 learns from the last 3,000 winter flights only, so the candidate's gain is real on live traffic too
@pytest.mark.parametrize("stack", [{"first_model_rows": 3000, "DRIFTLINE_RETRAIN__SHADOW_ROWS": "1000"}], indirect=True)
def test_a_better_candidate_goes_shadow_then_is_promoted(stack: Stack) -> None:
    """Drift: the retrain's candidate first predicts beside the champion; once 1,000 of those requests have labels
    the monitor promotes it; clients got the champion's answers meanwhile, and every call succeeded."""
    clients = ConcurrentClients(f"http://127.0.0.1:{stack.port}", client_rows(stack))
    try:
        stats = stack.replay(shuffle_labels=False)
        ended = decided_candidates(stack)
        time.sleep(stack.settings.serving.poll_seconds + 2)  # every worker has looked at the pointer since
    finally:
        clients.stop()
    promoted = next((s for s in stack.registry.store.shadow_history() if s["status"] == "promoted"), None)
    assert promoted is not None, (ended, [r["message"] for r in stack.registry.store.list_runs()])
    served = httpx.get(f"http://127.0.0.1:{stack.port}/model").json()["model_version"]
    assert (promoted["version"], {promoted["champion_version"]}, 0, []) == (
        served,
        versions_answering_shadowed(stack, promoted["id"]),
        stats.failed,
        clients.failures,
    )


@pytest.mark.parametrize("stack", [{**STRICT_GUARDRAIL, "DRIFTLINE_RETRAIN__SHADOW_ROWS": "1000"}], indirect=True)
def test_a_candidate_on_shuffled_labels_is_never_promoted_with_a_shadow_phase(stack: Stack) -> None:
    """With labels that carry no signal and the shadow phase on, no candidate is promoted, at the holdout or in
    the shadow; version 1 answers every request throughout."""
    stats = stack.replay(shuffle_labels=True)
    stack.wait_for_retrain()
    shadows = [s["status"] for s in stack.registry.store.shadow_history()]
    kinds = [p["kind"] for p in stack.registry.store.promotion_history()]
    assert (["initial"], False, {1}, 0) == (kinds, "promoted" in shadows, set(stats.versions), stats.failed)


# the monitor never retrains here: the promotion and the watch are the operator's and the labels' alone
UNTRIGGERED_WATCH = {"DRIFTLINE_RETRAIN__CONSECUTIVE_WINDOWS": "100000", "DRIFTLINE_RETRAIN__WATCH_ROWS": "600"}


@pytest.mark.parametrize("stack", [UNTRIGGERED_WATCH], indirect=True)
def test_a_worse_manual_promotion_under_watch_is_rolled_back(stack: Stack) -> None:
    """`driftline promote V --watch` of a one-split model: after its 600 watched requests have labels the monitor
    rolls it back to version 1 by itself, and every call before, during and after got a 200."""
    worse = stack.train_another(
        DRIFTLINE_DATA__MAX_ROWS="2000", DRIFTLINE_MODEL__PARAMS='{"max_iter": 1, "max_depth": 1}'
    )
    promote = [sys.executable, "-m", "driftline.cli", "promote", str(worse), "--watch", "--reason", "test"]
    subprocess.run(promote, env=stack.env, check=True, capture_output=True)
    clients = ConcurrentClients(f"http://127.0.0.1:{stack.port}", client_rows(stack))
    try:
        stats = stack.replay(shuffle_labels=False, rows=8000)
        rollback = wait_for(
            "the automatic rollback",
            lambda: next((p for p in stack.registry.store.promotion_history() if p["kind"] == "rollback"), None),
            120,
            every=1,
        )
        time.sleep(stack.settings.serving.poll_seconds + 2)  # every worker has looked at the pointer since
    finally:
        clients.stop()
    served = httpx.get(f"http://127.0.0.1:{stack.port}/model").json()["model_version"]
    evidence = rollback["evidence"]
    assert ((1, 1), (600, "monitor"), (0, [])) == (
        (rollback["version"], served),
        (evidence["rows"], evidence["who"]),
        (stats.failed, clients.failures),
    )
