"""Label-free performance estimation in real checks: trained versions, logged outputs, no labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from driftline.core import (
    PERFORMANCE_FILE,
    EstimationSettings,
    Registry,
    Settings,
    Store,
    load_settings,
    prediction_records,
)
from monitoring import DriftChecker
from monitoring.estimation import reference_threshold
from retrain import TrainingOutcome, train
from tests.factories import make_loans, write_config
from tests.monitoring.conftest import log_predictions


@pytest.fixture
def checker(settings: Settings, registry: Registry, trained: TrainingOutcome) -> DriftChecker:
    settings.monitoring.min_rows = 200
    settings.monitoring.window_rows = 1000
    settings.monitoring.estimation.reference_chunks = 4  # a 240-row holdout: four chunks of 60
    return DriftChecker(settings, registry)


def test_a_check_estimates_roc_auc_before_any_label(checker: DriftChecker, registry: Registry) -> None:
    """Unlabelled traffic like the training data gets a CBPE estimate inside its own band."""
    log_predictions(registry, make_loans(600, seed=21))
    estimate = checker.run().to_dict()["estimated_performance"]
    assert ("cbpe", True) == (estimate["method"], estimate["lower"] <= estimate["value"] <= estimate["upper"])


def test_the_estimate_is_close_to_the_realized_metric(checker: DriftChecker, registry: Registry) -> None:
    """On traffic like the training data the estimate and the metric on the labels differ by little."""
    rows = make_loans(1000, seed=22)
    log_predictions(registry, rows, labels=rows["default"])
    result = checker.run()
    assert abs((result.estimated.value or 0) - (result.live_metric or 0)) < 0.06  # type: ignore[union-attr]


def test_unchanged_traffic_raises_no_alert(checker: DriftChecker, registry: Registry) -> None:
    """The threshold derived from the holdout lies below the estimate of traffic like it."""
    log_predictions(registry, make_loans(600, seed=23))
    assert False is checker.run().estimated.alert  # type: ignore[union-attr]


def test_an_estimate_below_the_configured_threshold_alerts(checker: DriftChecker, registry: Registry) -> None:
    """A configured threshold replaces the derived one, and an estimate below it raises the alert."""
    checker.settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, make_loans(600, seed=24))
    estimate = checker.run().to_dict()["estimated_performance"]
    assert (0.99, True) == (estimate["threshold"], estimate["alert"])


def test_a_version_without_a_performance_reference_says_why(checker: DriftChecker, registry: Registry) -> None:
    """A version registered without performance.parquet (trained before it existed) is checked, not estimated."""
    trained = registry.get(1)
    old = registry.model_dir / "models" / "old" / "v1"
    shutil.copytree(registry.model_dir / trained.artifact_dir, old)
    (old / PERFORMANCE_FILE).unlink()
    version = registry.register(old, name="old", tag="old:v1", schema=trained.schema, details=trained.details)
    registry.promote(version.version, kind="manual", reason="test")
    log_predictions(registry, make_loans(300, seed=25))
    estimate = checker.run().to_dict()["estimated_performance"]
    expected = f"version {version.version} was trained without a performance reference; retrain to estimate"
    assert (None, expected) == (estimate["value"], estimate["reason"])


def test_a_damaged_performance_reference_leaves_the_drift_check_standing(
    checker: DriftChecker, registry: Registry
) -> None:
    """A performance reference whose sha256 no longer matches is refused; the check still compares the window."""
    path = registry.model_dir / registry.get(1).artifact_dir / PERFORMANCE_FILE
    path.write_bytes(path.read_bytes() + b"x")
    log_predictions(registry, make_loans(300, seed=29))
    summary = checker.run().to_dict()
    assert ("ok", True) == (summary["outcome"], "sha256" in summary["estimated_performance"]["reason"])


def test_a_metric_cbpe_does_not_define_is_not_estimated(checker: DriftChecker, registry: Registry) -> None:
    """log_loss has no CBPE estimate: the check names the metrics that have one."""
    checker.estimation.metric = "log_loss"
    log_predictions(registry, make_loans(300, seed=26))
    reason = checker.run().to_dict()["estimated_performance"]["reason"]
    assert "log_loss is not estimated; CBPE estimates roc_auc, accuracy, f1" == reason


def test_a_skipped_window_is_not_estimated(checker: DriftChecker, registry: Registry) -> None:
    """Below min_rows the estimate carries the skip's reason."""
    log_predictions(registry, make_loans(50, seed=27))
    estimate = checker.run().to_dict()["estimated_performance"]
    assert "50 rows served by version 1 in the window; at least 200 are needed" == estimate["reason"]


def test_a_regressor_gets_a_dle_estimate_of_its_mae(tmp_path: Path) -> None:
    """The nanny model stored with a regressor estimates the window's MAE close to the realized one."""
    frame = make_loans(2000).drop(columns=["default"])
    frame["amount"] = frame["income"] * 3 + np.nan_to_num(frame["debt_ratio"], nan=0.5) * 10
    frame["amount"] += np.random.default_rng(0).normal(0, 5 + 10 * (frame["purpose"] == "home"), len(frame))
    path = tmp_path / "amounts.csv"
    frame.to_csv(path, index=False)
    config = write_config(tmp_path, path, model__metric="mae", model__estimator="sklearn.linear_model.Ridge")
    config.write_text(
        config.read_text()
        .replace("target: default", "target: amount")
        .replace("task: classification", "task: regression")
    )
    settings = load_settings(config)
    settings.monitoring.min_rows = 200
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry)
    live = frame.sample(800, random_state=1)
    log_predictions(registry, live)
    predictions = registry.load(1).predict_rows(
        live[["income", "age", "debt_ratio", "purpose", "region"]].to_dict("records")
    )
    realized = float(np.mean(np.abs(live["amount"].to_numpy() - [p["prediction"] for p in predictions])))
    estimate = DriftChecker(settings, registry).run().estimated
    assert ("dle", True) == (estimate.method, abs(estimate.value - realized) < 0.15 * realized)  # type: ignore[union-attr,operator]
    registry.store.dispose()


def test_the_derived_threshold_is_the_chunk_mean_minus_three_spreads_scaled_to_a_window() -> None:
    """Chunks of 250 rows for a 1000-row window: their spread is halved (sqrt(250/1000)) before the 3 std."""
    values = [0.7, 0.8, 0.7, 0.8]
    found = reference_threshold("roc_auc", lambda rows: values, 1000, 1000, EstimationSettings(reference_chunks=4))
    assert 0.75 - 3 * 0.05 * 0.5 == pytest.approx(found)


def test_a_multiclass_model_is_not_estimated_and_says_why(tmp_path: Path) -> None:
    """CBPE is binary here: a four-class model's check names the reason instead of a value."""
    frame = make_loans(600).drop(columns=["default"])
    path = tmp_path / "purposes.csv"
    frame.to_csv(path, index=False)
    config = write_config(tmp_path, path, model__metric="accuracy")
    config.write_text(config.read_text().replace("target: default", "target: purpose"))
    settings = load_settings(config)
    settings.monitoring.min_rows = 100
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry)
    registry.promote(1, kind="manual", reason="a random target does not beat the baseline")
    rows = make_loans(200, seed=28)
    model = registry.load(1)
    features = [{k: v for k, v in r.items() if k in model.schema.features} for r in rows.to_dict("records")]
    outputs = model.predict_rows(features)
    ids = [f"m{i}" for i in range(len(features))]
    registry.store.insert_predictions(
        prediction_records(ids, features, outputs, model_version=1, created_at=1.0e9, latency_ms=1.0)
    )
    reason = DriftChecker(settings, registry).run().to_dict()["estimated_performance"]["reason"]
    registry.store.dispose()
    expected = "not estimated for a classifier of 4 classes: CBPE is implemented for binary classifiers only"
    assert expected == reason
