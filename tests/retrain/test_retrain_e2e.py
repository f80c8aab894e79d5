"""Unattended retraining on real parts: bentoml serve, the monitor, and replayed real flights with late labels."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from driftline.core import load_dataset
from monitoring import compare
from monitoring.window import to_frame
from tests.retrain.conftest import STRICT_GUARDRAIL, ConcurrentClients, Stack

pytestmark = pytest.mark.integration


def drift_share_against(stack: Stack, version: int, check: dict[str, Any]) -> float:
    """The share of drifted features of a check's window measured against `version`'s reference."""
    schema = stack.registry.get(check["model_version"]).schema
    monitoring = stack.settings.monitoring
    window = to_frame(
        stack.registry.store.window_rows(
            version=check["model_version"],
            first=check["window"]["first_id"],
            last=check["window"]["last_id"],
            limit=monitoring.sample_rows,
        ),
        schema,
    )
    result = compare(
        stack.registry.reference(version),
        window,
        schema,
        drift_share=monitoring.drift_share,
        stat_test=monitoring.stat_test,
        sample_rows=monitoring.sample_rows,
    )
    return result.drift_share


# version 1 learns from the last 3,000 winter flights only, so a retrain on thousands of labelled live flights has
# a real, measurable advantage for the guardrail to recognise
@pytest.mark.parametrize("stack", [{"first_model_rows": 3000}], indirect=True)
def test_drift_leads_to_a_promotion_the_service_serves(stack: Stack) -> None:
    """Drift: the monitor retrains, promotes a clearly better model while clients keep calling (none fails),
    responses carry it, drift is measured against its reference, and the drift share falls."""
    live = load_dataset(stack.settings.data).live
    summer = live[live["time_hour"].dt.month.isin([7, 8])]
    features = list(stack.settings.data.features.numeric) + list(stack.settings.data.features.categorical)
    # a light extra load of summer flights (one row a call), so the windows still drift as the replay does
    rows = [
        {k: (None if v != v else v) for k, v in row.items()} for row in summer.iloc[::37][features].to_dict("records")
    ]
    clients = ConcurrentClients(f"http://127.0.0.1:{stack.port}", rows)
    try:
        stats = stack.replay(shuffle_labels=False)
        stack.wait_for_retrain()
        time.sleep(stack.settings.serving.poll_seconds + 2)  # every worker has looked at the pointer since
    finally:
        clients.stop()
    promotions = [p for p in stack.registry.store.promotion_history() if p["kind"] == "auto"]
    assert promotions, (
        [r["message"] for r in stack.registry.store.list_runs()],
        [(c["outcome"], c["rows"], c["labelled_rows"], c["drift_share"]) for c in stack.checks],
    )
    first = promotions[0]
    evidence = first["evidence"]
    assert evidence["candidate_metrics"]["roc_auc"] > evidence["champion_metrics"]["roc_auc"]
    assert "consecutive windows" in evidence["drift"]["reason"]
    assert 0 == stats.failed
    served = httpx.get(f"http://127.0.0.1:{stack.port}/model").json()["model_version"]
    assert stack.registry.store.production_version() == served
    # the monitor now measures drift against the promoted version's reference
    new_reference = stack.registry.get(first["version"]).hashes["reference.parquet"]
    after = [c for c in stack.checks if c["model_version"] == first["version"]]
    assert any(c["reference_sha256"] == new_reference for c in after)
    # the promotion under concurrent load: no client call failed, and they saw both versions
    assert ([], True) == (clients.failures, clients.answered > 100)
    assert {1, first["version"]} <= set(clients.versions)
    # the same live windows (every check after the switch) measured against the old baseline and the new one: the
    # new baseline must not make them drift more (on the flights data the count of drifted features can tie)
    old_share = sum(drift_share_against(stack, first["previous_version"], check) for check in after) / len(after)
    new_share = sum(drift_share_against(stack, first["version"], check) for check in after) / len(after)
    assert new_share <= old_share, (old_share, new_share)


@pytest.mark.parametrize("stack", [STRICT_GUARDRAIL], indirect=True)
def test_a_candidate_on_shuffled_labels_is_rejected_and_production_stays(stack: Stack) -> None:
    """With labels that carry no signal, retrains run and are rejected; version 1 serves throughout."""
    stats = stack.replay(shuffle_labels=True)  # the cool-down allows about two retrains in this replay
    stack.wait_for_retrain()
    runs = [r for r in stack.registry.store.list_runs() if r["trigger"] == "drift"]
    assert runs and all(r["message"].startswith("rejected") for r in runs if r["status"] == "succeeded")
    assert 1 == stack.registry.store.production_version()
    assert {1} == set(stats.versions)
    assert ["initial"] == [p["kind"] for p in stack.registry.store.promotion_history()]
