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
