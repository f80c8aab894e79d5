"""The estimated-performance trigger policy: a retrain can start before any label of the window arrives."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.core import Registry, RunRow, Settings
from monitoring import DriftChecker, MonitorMetrics, ReportArchive
from retrain import TrainingOutcome
from retrain.loop import MonitorLoop
from retrain.performance_trigger import estimated_drop_reason, estimated_performance_drop
from tests.factories import make_loans
from tests.monitoring.conftest import log_predictions


@pytest.fixture
def checker(settings: Settings, registry: Registry, trained: TrainingOutcome) -> DriftChecker:
    settings.monitoring.min_rows = 200
    settings.monitoring.window_rows = 1000
    return DriftChecker(settings, registry)


def test_an_estimate_below_its_threshold_starts_a_retrain_with_no_label(
    checker: DriftChecker, registry: Registry
) -> None:
    """Unlabelled traffic whose estimate falls below the threshold counts as a performance drop."""
    checker.settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, make_loans(400, seed=31))
    result = checker.run()
    assert (0, True) == (result.window.labelled_rows, estimated_performance_drop(result))


def test_an_estimate_above_its_threshold_starts_nothing(checker: DriftChecker, registry: Registry) -> None:
    """The same traffic against a low threshold is no drop."""
    checker.settings.monitoring.estimation.threshold = 0.2
    log_predictions(registry, make_loans(400, seed=32))
    assert False is estimated_performance_drop(checker.run())


def test_a_window_without_an_estimate_starts_nothing(checker: DriftChecker, registry: Registry) -> None:
    """A skipped window has no estimate, so the policy never fires on it."""
    checker.settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, make_loans(50, seed=33))
    assert False is estimated_performance_drop(checker.run())


def test_the_reason_names_the_estimate_its_threshold_and_the_labels(checker: DriftChecker, registry: Registry) -> None:
    """What the run record says about a retrain this policy started."""
    checker.settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, make_loans(400, seed=34))
    result = checker.run()
    value = result.estimated.value  # type: ignore[union-attr]
    expected = f"estimated roc_auc {value:.4f} is worse than its threshold 0.9900 (400 rows, 0 labelled)"
    assert expected == estimated_drop_reason(result)


@pytest.fixture
def loop(tmp_path: Path, checker: DriftChecker) -> MonitorLoop:
    """A monitor loop under `retrain.trigger: estimated_performance` whose estimate is always below its threshold."""
    retrain = checker.settings.retrain
    retrain.trigger, retrain.consecutive_windows, retrain.min_labeled_rows = "estimated_performance", 1, 300
    retrain.cooldown_seconds = 0
    checker.settings.monitoring.estimation.threshold = 0.99
    return MonitorLoop(checker.settings, checker, MonitorMetrics(), ReportArchive(tmp_path / "reports", 3))


def drift_runs(registry: Registry) -> list[RunRow]:
    return [r for r in registry.store.list_runs() if r["trigger"] == "drift"]


def test_the_estimated_performance_policy_starts_a_retrain_before_any_label(
    loop: MonitorLoop, registry: Registry
) -> None:
    """An estimated drop with no label at all starts a retrain, which waits for labels instead of failing."""
    log_predictions(registry, make_loans(400, seed=35))
    loop.check_once()
    run = drift_runs(registry)[0]
    expected = "waiting for labels: 0 of 300 labelled live rows; the trigger stays armed and retrains once they are in"
    assert ("waiting", expected) == (run["status"], run["message"])


def test_a_retrain_waiting_for_labels_counts_neither_as_rejected_nor_as_failed(
    loop: MonitorLoop, registry: Registry
) -> None:
    """The waiting retrain is counted under its own outcome."""
    log_predictions(registry, make_loans(400, seed=36))
    loop.check_once()
    sample = loop.metrics.registry.get_sample_value
    counted = {o: sample("driftline_retrain_runs_total", {"outcome": o}) for o in ("waiting", "rejected", "failed")}
    assert {"waiting": 1.0, "rejected": 0.0, "failed": 0.0} == counted


def test_drifted_checks_while_the_labels_are_missing_record_no_further_retrain(
    loop: MonitorLoop, registry: Registry
) -> None:
    """The armed trigger waits quietly: more windows with an estimated drop and no labels add no run."""
    log_predictions(registry, make_loans(400, seed=37))
    for _ in range(3):
        loop.check_once()
    assert ["waiting"] == [r["status"] for r in drift_runs(registry)]


def test_the_armed_trigger_retrains_once_the_labels_are_in(loop: MonitorLoop, registry: Registry) -> None:
    """After waiting, the first check that finds enough labels retrains, without counting the windows afresh."""
    loop.settings.retrain.consecutive_windows = 2
    rows = make_loans(400, seed=38)
    ids = log_predictions(registry, rows)
    loop.check_once()
    loop.check_once()  # the second drifted window starts the retrain, which waits
    registry.store.record_feedback(dict(zip(ids, (int(v) for v in rows["default"]), strict=True)))
    loop.check_once()
    latest = drift_runs(registry)[0]
    reason = "drift in 2 consecutive windows; the labels it waited for are in"
    assert ("succeeded", reason) == (latest["status"], latest["details"]["evidence"]["drift"]["reason"])
