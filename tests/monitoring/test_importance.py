from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftline.core import Registry, Store, VersionDetails, load_settings
from monitoring import DriftChecker, FeatureDrift
from monitoring.importance import FeatureWeights, weighted_drift
from retrain import train
from tests.factories import make_loans, write_amounts_config
from tests.monitoring.conftest import log_predictions


def drift(feature: str, drifted: bool) -> FeatureDrift:
    return FeatureDrift(feature, "numeric", "Wasserstein distance (normed)", "distance", 0.5, 0.1, drifted)


def details(importance: dict[str, float | None] | None) -> VersionDetails:
    """A version's details with (or, for a version trained before it was measured, without) feature importance."""
    stored: dict[str, Any] = {"estimator": "x", "metric": "roc_auc", "run_id": 1}
    if importance is not None:
        stored["feature_importance"] = {"metric": "roc_auc", "rows": 100, "repeats": 3, "mean": importance, "std": {}}
    return stored  # type: ignore[return-value]


WEIGHTS = FeatureWeights.of(1, details({"income": 0.12, "debt": 0.06, "age": 0.0, "region": -0.01}))


def test_drift_in_ignored_features_scores_zero() -> None:
    """Features with importance 0 or below carry no weight: their drift alone scores 0 and does not count."""
    found = weighted_drift(
        [drift("income", False), drift("debt", False), drift("age", True), drift("region", True)], WEIGHTS, 0.3
    )
    assert (0.0, False) == (found.score, found.drifted)


def test_drift_in_the_most_important_feature_scores_its_share_of_importance() -> None:
    """Income carries 0.12 of 0.18 of the positive importance: its drift alone scores 2/3."""
    found = weighted_drift(
        [drift("income", True), drift("debt", False), drift("age", False), drift("region", False)], WEIGHTS, 0.3
    )
    assert (pytest.approx(2 / 3), True) == (found.score, found.drifted)


def test_a_version_without_importance_is_weighted_equally_and_says_so() -> None:
    """An older version's details lack feature_importance: the score is the plain drift share, with the reason."""
    found = weighted_drift([drift("income", True), drift("age", False)], FeatureWeights.of(3, details(None)), 0.3)
    assert (0.5, "version 3 stores no feature importance (trained before it was measured)") == (
        found.score,
        found.equal_weights_because,
    )


def test_importance_all_at_or_below_zero_falls_back_to_equal_weights() -> None:
    """When no compared feature has a positive importance, weighing by it would divide by zero: equal weights."""
    weights = FeatureWeights.of(1, details({"income": 0.0, "age": None}))
    found = weighted_drift([drift("income", True), drift("age", False)], weights, 0.3)
    assert (0.5, "no compared feature has a positive importance") == (found.score, found.equal_weights_because)


def test_each_feature_carries_its_importance_and_weight_beside_its_drift() -> None:
    """The check result lists a feature's stored importance and its normalised weight next to its test."""
    found = weighted_drift([drift("income", True), drift("debt", False)], WEIGHTS, 0.3)
    annotated = found.annotate(drift("debt", False))
    assert (0.06, pytest.approx(1 / 3), False) == (annotated["importance"], annotated["weight"], annotated["drifted"])


def test_a_check_of_a_regression_version_weighs_drift_by_its_stored_importance(tmp_path: Path) -> None:
    """On a user's regression CSV the check weighs by the stored importance: income, the target's core, weighs most."""
    settings = load_settings(
        write_amounts_config(tmp_path, 800, model__estimator="sklearn.linear_model.Ridge", model__metric="rmse")
    )
    settings.monitoring.min_rows = 200
    store = Store(settings.store.url)
    registry = Registry(store, settings.store.model_dir)
    train(settings, registry, trigger="test")
    log_predictions(registry, make_loans(400, seed=41, income_shift=40))
    found = DriftChecker(settings, registry).run().to_dict()
    store.dispose()
    weights = {f["feature"]: f["weight"] for f in found["features"]}
    assert (False, "income") == (found["weighted_drift"]["equal_weights"], max(weights, key=weights.__getitem__))
