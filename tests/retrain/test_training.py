from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.core import PREDICTION_COLUMN, DataError, Registry, Settings, load_settings
from driftline.core.registry import REFERENCE_FILE
from retrain import TrainingOutcome, train
from retrain.evaluate import is_better
from retrain.pipeline import estimator_class
from tests.factories import make_loans, write_amounts_config, write_config


def test_first_training_registers_and_promotes_with_evidence(trained: TrainingOutcome, registry: Registry) -> None:
    """The first version beats its baseline, is promoted, and keeps metrics, rows, params and fingerprint."""
    details = trained.version.details
    assert trained.promoted and registry.production().version == trained.version.version
    assert details["metrics"]["roc_auc"] > details["baseline_metrics"]["roc_auc"] == 0.5
    assert {"accuracy", "f1", "log_loss", "brier", "confusion_matrix"} <= set(details["metrics"])
    assert details["data"]["rows_train"] + details["data"]["rows_holdout"] == 1200
    assert details["data"]["rows_reference"] == 500
    assert details["params"]["max_iter"] == 500 and len(details["data"]["fingerprint"]) == 64
    assert registry.store.list_runs()[0]["status"] == "succeeded"


def test_the_reference_sample_holds_features_target_and_prediction(
    trained: TrainingOutcome, registry: Registry
) -> None:
    """The drift baseline stored with the version has the training features and the model's scores."""
    reference = registry.reference(trained.version.version)
    assert len(reference) == 500
    assert {"income", "age", "debt_ratio", "purpose", "region", "default", PREDICTION_COLUMN} == set(reference.columns)
    assert reference[PREDICTION_COLUMN].between(0, 1).all()
    assert (registry.model_dir / trained.version.artifact_dir / REFERENCE_FILE).exists()


def test_a_second_version_is_registered_but_production_stays(
    trained: TrainingOutcome, settings: Settings, registry: Registry
) -> None:
    """Only the first version is promoted by `train`; later ones wait for a comparison or a manual promote."""
    second = train(settings, registry, trigger="test")
    assert not second.promoted and "stays in production" in second.decision
    assert trained.version.version == registry.production().version


def test_identical_rows_are_kept_by_default_and_their_share_reported(tmp_path: Path, loans: pd.DataFrame) -> None:
    """Identical rows are real observations unless told otherwise: all are trained on, and their share is shown."""
    path = tmp_path / "dup.csv"
    pd.concat([loans, loans.iloc[:40]]).to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path))
    messages: list[str] = []
    outcome = train(settings, Registry_for(settings), progress=messages.append)
    data = outcome.version.details["data"]
    assert (1240, 40, 0.0323, 0) == (
        data["rows_train"] + data["rows_holdout"],
        data["identical_rows"],
        data["identical_share"],
        data["duplicates_dropped"],
    )
    assert "40 rows (3.2%) identical to an earlier row, kept (data.drop_duplicate_rows drops them)" in messages
    assert any(m.startswith("missing values: debt_ratio") for m in messages)


def test_identical_rows_are_dropped_when_asked(tmp_path: Path, loans: pd.DataFrame) -> None:
    """With data.drop_duplicate_rows each identical row is trained on once and the count recorded."""
    path = tmp_path / "dup.csv"
    pd.concat([loans, loans.iloc[:40]]).to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path, data__drop_duplicate_rows=True))
    messages: list[str] = []
    outcome = train(settings, Registry_for(settings), progress=messages.append)
    data = outcome.version.details["data"]
    assert (1200, 40, 40) == (
        data["rows_train"] + data["rows_holdout"],
        data["identical_rows"],
        data["duplicates_dropped"],
    )
    assert "dropped 40 rows (3.2%) identical to an earlier row" in messages


def test_rows_whose_id_repeats_are_dropped_and_the_id_is_no_feature(tmp_path: Path, loans: pd.DataFrame) -> None:
    """With data.id_column a repeated id keeps its first row only, and the id column is left out of the features."""
    loans = loans.assign(loan_id=range(len(loans)))
    resent = loans.iloc[:40].assign(income=loans["income"].iloc[:40] + 1.0)
    path = tmp_path / "ids.csv"
    pd.concat([loans, resent]).to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path, data__id_column="loan_id"))
    messages: list[str] = []
    outcome = train(settings, Registry_for(settings), progress=messages.append)
    data = outcome.version.details["data"]
    assert (1200, 40, 0) == (
        data["rows_train"] + data["rows_holdout"],
        data["repeated_ids_dropped"],
        data["identical_rows"],
    )
    assert ("income", "age", "debt_ratio") == outcome.version.schema.numeric
    assert "dropped 40 rows whose id repeats an earlier row's" in messages


def test_a_single_class_target_is_refused_and_the_run_recorded(tmp_path: Path, loans: pd.DataFrame) -> None:
    """No version is registered; the failed run keeps the reason."""
    path = tmp_path / "one.csv"
    loans.assign(default=1).to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path))
    registry = Registry_for(settings)
    with pytest.raises(DataError, match="only one class"):
        train(settings, registry)
    assert registry.versions() == []
    run = registry.store.list_runs()[0]
    assert (run["status"], "only one class" in run["message"]) == ("failed", True)


def test_a_model_that_cannot_beat_its_baseline_is_not_promoted(tmp_path: Path, loans: pd.DataFrame) -> None:
    """With labels unrelated to the features the version is kept as rejected, and nothing is in production."""
    path = tmp_path / "noise.csv"
    rng = np.random.default_rng(5)
    loans.assign(default=rng.integers(0, 2, len(loans))).to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path, model__metric="log_loss"))
    registry = Registry_for(settings)
    outcome = train(settings, registry)
    assert not outcome.promoted and outcome.version.status == "rejected"
    assert "does not beat the baseline" in (outcome.version.status_reason or "")
    assert registry.store.production_version() is None


def test_regression_on_a_user_parquet_file_with_inferred_features(tmp_path: Path) -> None:
    """A regression target, features inferred from a Parquet file, evaluated with MAE, RMSE and R2."""
    frame = make_loans(800).drop(columns=["default"])
    frame["amount"] = frame["income"] * 3 + np.nan_to_num(frame["debt_ratio"], nan=0.5) * 10
    path = tmp_path / "amounts.parquet"
    frame.to_parquet(path)
    config = write_config(
        tmp_path,
        path,
        model__metric="rmse",
        model__estimator="sklearn.ensemble.HistGradientBoostingRegressor",
        model__params={},
    )
    text = (
        config.read_text()
        .replace("target: default", "target: amount")
        .replace("task: classification", "task: regression")
    )
    config.write_text(text)
    settings = load_settings(config)
    outcome = train(settings, Registry_for(settings))
    assert outcome.promoted
    assert outcome.version.schema.numeric == ("income", "age", "debt_ratio")
    metrics = outcome.version.details["metrics"]
    assert metrics["r2"] > 0.8 and metrics["rmse"] < outcome.version.details["baseline_metrics"]["rmse"]


def test_a_scorer_name_trains_and_compares_with_the_scorer_direction(tmp_path: Path) -> None:
    """neg_mean_absolute_error is recorded as -MAE, and the model beats the mean baseline by scoring higher."""
    config = write_amounts_config(
        tmp_path, 600, model__metric="neg_mean_absolute_error", model__estimator="sklearn.linear_model.Ridge"
    )
    settings = load_settings(config)
    outcome = train(settings, Registry_for(settings))
    metrics, baseline = outcome.version.details["metrics"], outcome.version.details["baseline_metrics"]
    assert outcome.promoted
    assert -metrics["mae"] == pytest.approx(metrics["neg_mean_absolute_error"])
    assert metrics["neg_mean_absolute_error"] > baseline["neg_mean_absolute_error"]


def test_only_scikit_learn_estimators_can_be_named() -> None:
    """An import path outside sklearn never gets imported."""
    from driftline.core import ConfigError

    with pytest.raises(ConfigError, match="not a scikit-learn estimator"):
        estimator_class("subprocess.Popen")
    with pytest.raises(ConfigError, match="cannot be imported"):
        estimator_class("sklearn.linear_model.NoSuchModel")
    with pytest.raises(ConfigError, match="not an estimator"):
        estimator_class("sklearn.metrics.roc_auc_score")


@pytest.mark.parametrize(
    ("candidate", "reference", "metric", "gain", "expected"),
    [
        (0.8, 0.7, "roc_auc", 0.0, True),
        (0.72, 0.7, "roc_auc", 0.05, False),
        (0.3, 0.4, "log_loss", 0.0, True),
        (0.5, 0.4, "mae", 0.0, False),
        (float("nan"), 0.4, "roc_auc", 0.0, False),
        (-0.3, -0.4, "neg_mean_absolute_error", 0.0, True),
        (-0.5, -0.4, "neg_log_loss", 0.0, False),
    ],
)
def test_is_better_respects_metric_direction_and_gain(
    candidate: float, reference: float, metric: str, gain: float, expected: bool
) -> None:
    """Larger is better for scores, smaller for losses, by more than the minimum gain."""
    assert expected == is_better(candidate, reference, metric, gain)


def Registry_for(settings: Settings) -> Registry:
    from driftline.core import Store

    return Registry(Store(settings.store.url), settings.store.model_dir)


def test_bootstrap_gain_separates_a_real_improvement_from_noise() -> None:
    """Two equally good models give a 5th-percentile gain at or below 0; a clearly better one above 0."""
    from retrain.evaluate import bootstrap_gain

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 1000)
    classes = np.array([0, 1])
    noisy = lambda scale: np.clip(truth + rng.normal(0, scale, len(truth)), 0, 1)  # noqa: E731
    champion = noisy(0.8)
    as_proba = lambda p: np.column_stack([1 - p, p])  # noqa: E731
    twin = bootstrap_gain("roc_auc", truth, as_proba(noisy(0.8)), as_proba(champion), classes, rounds=100)
    better = bootstrap_gain("roc_auc", truth, as_proba(noisy(0.3)), as_proba(champion), classes, rounds=100)
    assert twin[1] <= 0 < better[1]
    assert better[0] > 0.1


def test_bootstrap_gain_on_a_scorer_name_is_positive_for_the_better_model() -> None:
    """With neg_mean_absolute_error the candidate closer to the truth gains, as the champion/challenger check needs."""
    from retrain.evaluate import bootstrap_gain

    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 500)
    close, far = truth + rng.normal(0, 0.1, 500), truth + rng.normal(0, 1.0, 500)
    mean, lower = bootstrap_gain("neg_mean_absolute_error", truth, close, far, None, rounds=50)
    assert lower > 0 and mean > 0.5
