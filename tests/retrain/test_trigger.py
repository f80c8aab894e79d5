from __future__ import annotations

import pandas as pd
import pytest

from driftline.core import FeatureSchema, Registry, RetrainBackoff, RetrainSettings, Settings, retrain_backoff
from monitoring import CheckResult, DriftChecker, DriftResult, compare
from monitoring.importance import FeatureWeights, weighted_drift
from monitoring.window import LiveWindow
from retrain import TrainingOutcome
from retrain.trigger import RetrainTrigger, counted_outcome
from tests.factories import CATEGORICAL, NUMERIC, make_loans
from tests.monitoring.conftest import log_predictions

SCHEMA = FeatureSchema(tuple(NUMERIC), tuple(CATEGORICAL), "default", "classification", (0, 1))
# as measured on the loans model: the label depends on income and debt_ratio, hardly on purpose, not on age or region
WEIGHTS = FeatureWeights(
    {"income": 0.15, "age": 0.0004, "debt_ratio": 0.12, "purpose": 0.016, "region": -0.001}, "roc_auc"
)


def shifted(feature: str, by: float, *, seed: int) -> pd.DataFrame:
    """Loans rows with `feature` moved by `by` (seeds whose other features happen to stay below their thresholds)."""
    rows = make_loans(600, seed=seed)
    rows[feature] = rows[feature] + by
    return rows


def checked(window: pd.DataFrame) -> CheckResult:
    """A check result of `window` against the loans reference, as the checker builds it."""
    drift: DriftResult = compare(make_loans(1200, seed=0), window, SCHEMA, drift_share=0.3)
    drift.weighted = weighted_drift(drift.features, WEIGHTS, 0.3)
    live = LiveWindow(1, len(window), 0, 1, len(window), None, None, window, window.iloc[:0])
    return CheckResult("drift" if drift.dataset_drift else "ok", 1, "", 0.0, 0.0, live, drift=drift)


@pytest.fixture(scope="module")
def ignored_drifts() -> CheckResult:
    return checked(shifted("age", 40, seed=5))


@pytest.fixture(scope="module")
def important_drifts() -> CheckResult:
    return checked(shifted("income", 40, seed=5))


def test_weighted_policy_does_not_count_drift_in_an_ignored_feature(ignored_drifts: CheckResult) -> None:
    """Ages far outside the training range, in a feature of importance about 0: not a drifted window."""
    assert "ok" == counted_outcome(ignored_drifts, "weighted_drift")


def test_weighted_policy_counts_the_same_drift_in_the_most_important_feature(important_drifts: CheckResult) -> None:
    """The same kind of shift in income, the feature the model relies on most: a drifted window."""
    assert "drift" == counted_outcome(important_drifts, "weighted_drift")


def test_drift_share_policy_needs_a_share_of_features_whatever_their_importance(important_drifts: CheckResult) -> None:
    """One drifted feature of five stays below the 0.3 drift share: today's policy does not count it."""
    assert "ok" == counted_outcome(important_drifts, "drift_share")


def test_any_policy_counts_a_window_either_policy_counts(important_drifts: CheckResult) -> None:
    """With `any`, weighted drift alone is enough."""
    assert "drift" == counted_outcome(important_drifts, "any")


def test_a_skipped_check_counts_for_neither(important_drifts: CheckResult) -> None:
    """A check that compared nothing neither adds to nor resets the count."""
    skipped = CheckResult("skipped", 1, "", 0.0, 0.0, important_drifts.window)
    assert "skipped" == counted_outcome(skipped, "weighted_drift")


@pytest.fixture
def weighted(settings: Settings, registry: Registry, trained: TrainingOutcome) -> tuple[DriftChecker, RetrainTrigger]:
    settings.monitoring.min_rows = 200
    settings.retrain.trigger = "weighted_drift"
    settings.retrain.consecutive_windows = 1
    return DriftChecker(settings, registry), RetrainTrigger(settings.retrain)


def retrain_reason(weighted: tuple[DriftChecker, RetrainTrigger], registry: Registry, feature: str) -> str | None:
    """Log loans rows with `feature` shifted far, check them, and feed the check to the trigger."""
    checker, trigger = weighted
    log_predictions(registry, shifted(feature, 40, seed=4))
    backoff = retrain_backoff(checker.settings.retrain, registry.store)
    return trigger.observe(counted_outcome(checker.run(), "weighted_drift"), labelled_rows=10_000, backoff=backoff)


def test_a_real_check_of_drift_in_an_ignored_feature_starts_no_retrain(
    weighted: tuple[DriftChecker, RetrainTrigger], registry: Registry
) -> None:
    """Through the trained model's stored importance: age drifts strongly, the weighted policy starts no retrain."""
    assert None is retrain_reason(weighted, registry, "age")


def test_a_real_check_of_drift_in_the_most_important_feature_starts_a_retrain(
    weighted: tuple[DriftChecker, RetrainTrigger], registry: Registry
) -> None:
    """The same shift in income, which the trained model relies on most, starts one."""
    assert "drift in 1 consecutive windows" == retrain_reason(weighted, registry, "income")


NO_RETRAIN_YET = RetrainBackoff(None, 600, 0, "none", "no retrain has run yet")


def test_a_trigger_waiting_for_labels_fires_once_they_are_in() -> None:
    """Armed by a retrain that found too few labels, the trigger fires at the next drifted window with enough."""
    trigger = RetrainTrigger(RetrainSettings(consecutive_windows=3, min_labeled_rows=10))
    trigger.await_labels()
    assert None is not trigger.observe("drift", 10, NO_RETRAIN_YET, needs_labels=False)


def test_a_trigger_waiting_for_labels_holds_while_they_are_missing() -> None:
    """Armed, but the label-free policy's drifted windows start nothing more until the labels are in."""
    trigger = RetrainTrigger(RetrainSettings(consecutive_windows=1, min_labeled_rows=10))
    trigger.await_labels()
    assert None is trigger.observe("drift", 9, NO_RETRAIN_YET, needs_labels=False)


def test_a_check_without_drift_disarms_a_trigger_waiting_for_labels() -> None:
    """When the estimate recovers before the labels arrive, the waiting retrain is dropped."""
    trigger = RetrainTrigger(RetrainSettings(consecutive_windows=2, min_labeled_rows=10))
    trigger.await_labels()
    trigger.observe("ok", 0, NO_RETRAIN_YET, needs_labels=False)
    assert None is trigger.observe("drift", 10, NO_RETRAIN_YET, needs_labels=False)
