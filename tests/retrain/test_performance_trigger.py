"""The estimated-performance trigger policy: a retrain can start before any label of the window arrives."""

from __future__ import annotations

import pytest

from driftline.core import Registry, Settings, retrain_backoff
from monitoring import DriftChecker
from retrain import TrainingOutcome
from retrain.performance_trigger import estimated_drop_reason, estimated_performance_drop
from retrain.trigger import RetrainTrigger, counted_outcome
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


def test_the_estimated_performance_policy_starts_a_retrain_before_any_label(
    checker: DriftChecker, registry: Registry
) -> None:
    """Under `retrain.trigger: estimated_performance` the trigger fires on an estimated drop with no label at all."""
    retrain = checker.settings.retrain
    retrain.trigger, retrain.consecutive_windows = "estimated_performance", 1
    checker.settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, make_loans(400, seed=35))
    outcome = counted_outcome(checker.run(), retrain.trigger)
    why = RetrainTrigger(retrain).observe(
        outcome, labelled_rows=0, backoff=retrain_backoff(retrain, registry.store), needs_labels=False
    )
    assert "drift in 1 consecutive windows" == why
