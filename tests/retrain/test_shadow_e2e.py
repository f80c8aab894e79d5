"""The shadow phase on real parts: bentoml serve, the monitor and replayed real flights with late labels."""

from __future__ import annotations

import time

import httpx
import pytest
import sqlalchemy as sa

from driftline.core import load_dataset
from driftline.core.store import predictions, shadow_predictions
from tests.retrain.test_retrain_e2e import ConcurrentClients, Stack
from tests.retrain.test_retrain_e2e import stack as stack  # the fixture: a trained flights model, served and watched

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


# version 1 learns from the last 3,000 winter flights only, so the candidate's gain is real on live traffic too
@pytest.mark.parametrize("stack", [{"first_model_rows": 3000, "DRIFTLINE_RETRAIN__SHADOW_ROWS": "1000"}], indirect=True)
def test_a_better_candidate_goes_shadow_then_is_promoted(stack: Stack) -> None:
    """Drift: the retrain's candidate first predicts beside the champion; once 1,000 of those requests have labels
    the monitor promotes it; clients got the champion's answers meanwhile, and every call succeeded."""
    live = load_dataset(stack.settings.data).live
    features = list(stack.settings.data.features.numeric) + list(stack.settings.data.features.categorical)
    rows = [
        {k: (None if v != v else v) for k, v in row.items()} for row in live.iloc[::97][features].to_dict("records")
    ]
    clients = ConcurrentClients(f"http://127.0.0.1:{stack.port}", rows)
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
