from __future__ import annotations

import time
from pathlib import Path

from driftline.core import Registry, Settings
from monitoring import DriftChecker, MonitorMetrics, ReportArchive
from retrain import TrainingOutcome
from retrain.loop import MonitorLoop
from tests.monitoring.conftest import log_predictions
from tests.retrain.test_challenger import new_regime


def test_drift_in_consecutive_windows_retrains_and_promotes(
    tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """Two drifted checks in a row with enough labels: the loop retrains, promotes, and counts it."""
    settings.monitoring.min_rows = 200
    settings.monitoring.drift_share = 0.2
    settings.retrain.consecutive_windows = 2
    settings.retrain.min_labeled_rows = 300
    loop = MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), ReportArchive(tmp_path, 3))
    live = new_regime(1500, seed=51)
    log_predictions(registry, live, labels=live["default"])
    assert "drift" == loop.check_once().outcome  # type: ignore[union-attr]
    assert None is loop.last_decision and 1 == registry.production().version
    assert "drift" == loop.check_once().outcome  # type: ignore[union-attr]
    assert loop.last_decision is not None and "promoted" == loop.last_decision.outcome
    assert 2 == registry.production().version
    registry_value = loop.metrics.registry.get_sample_value
    assert 1.0 == registry_value("driftline_retrain_runs_total", {"outcome": "promoted"})
    assert 1.0 == registry_value("driftline_promotions_total", {"kind": "auto"})
    assert ["drift", "drift"] == [c["outcome"] for c in registry.store.last_checks()]
    history = registry.store.promotion_history()[-1]
    assert "drift in 2 consecutive windows" == history["evidence"]["drift"]["reason"]


def test_a_rejected_drift_retrain_doubles_the_wait_and_the_gauges_say_so(
    tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """Drift no candidate can fix: the retrain is rejected, the next one waits twice the cool-down, and the monitor's
    gauges show when and why."""
    settings.monitoring.min_rows = 200
    settings.monitoring.drift_share = 0.2
    settings.retrain.consecutive_windows = 1
    settings.retrain.min_labeled_rows = 300
    settings.retrain.min_gain = 0.05
    settings.retrain.cooldown_seconds = 600  # no retrain has run yet, so the first one runs at once
    loop = MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), ReportArchive(tmp_path, 3))
    live = new_regime(1500, seed=52)
    log_predictions(registry, live, labels=live["default"].sample(frac=1.0, random_state=3).reset_index(drop=True))
    loop.check_once()
    backoff = loop.publish_backoff()
    started = registry.store.list_runs(limit=1)[0]["started_at"]
    assert backoff is not None
    assert ("rejected", 1, started + 1200) == (
        loop.last_decision.outcome if loop.last_decision else None,
        backoff.rejected_in_a_row,
        backoff.allowed_at,
    )
    sample = loop.metrics.registry.get_sample_value
    assert (started + 1200, 1.0) == (
        sample("driftline_next_retrain_allowed_timestamp_seconds", {"reason": "backoff"}),
        sample("driftline_retrain_rejected_in_a_row", {}),
    )


def test_a_drift_retrain_waits_out_the_back_off(
    tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """After a rejected drift retrain, drifted checks within the doubled cool-down retrain no more."""
    settings.monitoring.min_rows = 200
    settings.monitoring.drift_share = 0.2
    settings.retrain.consecutive_windows = 1
    settings.retrain.min_labeled_rows = 300
    settings.retrain.min_gain = 0.05
    settings.retrain.cooldown_seconds = 600
    registry.store.finish_run(registry.store.start_run("drift"), status="succeeded", details={"outcome": "rejected"})
    loop = MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), ReportArchive(tmp_path, 3))
    live = new_regime(1500, seed=53)
    log_predictions(registry, live, labels=live["default"])
    outcomes = [loop.check_once().outcome for _ in range(2)]  # type: ignore[union-attr]
    assert (["drift", "drift"], 1) == (
        outcomes,
        len([r for r in registry.store.list_runs() if r["trigger"] == "drift"]),
    )


def test_the_leader_prunes_on_its_schedule(
    tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """Once the monitor holds the lease, its retention job runs every interval and prunes down to the window."""
    settings.monitoring.interval_seconds = 3600
    settings.monitoring.window_rows = 200
    settings.retention.interval_seconds = 1
    settings.retention.predictions_days = 1e-9  # every logged row is past retention but the window's
    log_predictions(registry, new_regime(500, seed=52))
    loop = MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), ReportArchive(tmp_path, 3))
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while registry.store.count_predictions() > 200 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        loop.stop()
    assert 200 == registry.store.count_predictions()
