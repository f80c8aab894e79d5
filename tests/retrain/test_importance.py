from __future__ import annotations

from pathlib import Path

from driftline.core import Registry, Store, load_settings
from retrain import TrainingOutcome, train
from tests.factories import make_loans, write_amounts_config, write_config


def test_training_stores_the_permutation_importance_of_every_feature(trained: TrainingOutcome) -> None:
    """The version's details hold one importance per feature, measured in the configured metric."""
    stored = trained.version.details["feature_importance"]
    assert ("roc_auc", {"income", "age", "debt_ratio", "purpose", "region"}) == (stored["metric"], set(stored["mean"]))


def test_the_features_the_label_depends_on_weigh_most(trained: TrainingOutcome) -> None:
    """The loans label depends on income and debt ratio, not on age or region: those two rank first."""
    mean = trained.version.details["feature_importance"]["mean"]
    ranked = sorted(mean, key=lambda name: mean[name] or 0.0, reverse=True)
    assert {"income", "debt_ratio"} == set(ranked[:2])


def test_the_shuffled_rows_are_bounded(tmp_path: Path) -> None:
    """At most model.importance_rows holdout rows are shuffled, each feature importance_repeats times."""
    path = tmp_path / "loans.csv"
    make_loans().to_csv(path, index=False)
    settings = load_settings(write_config(tmp_path, path, model__importance_rows=100, model__importance_repeats=2))
    outcome = train(settings, Registry(Store(settings.store.url), settings.store.model_dir), trigger="test")
    stored = outcome.version.details["feature_importance"]
    assert (100, 2) == (stored["rows"], stored["repeats"])


def test_importance_in_a_metric_where_lower_is_better_is_still_a_loss(tmp_path: Path) -> None:
    """With RMSE, shuffling income, which the target is mostly made of, raises the error most: it ranks first."""
    config = write_amounts_config(
        tmp_path, 800, model__metric="rmse", model__estimator="sklearn.linear_model.Ridge", model__params={}
    )
    settings = load_settings(config)
    outcome = train(settings, Registry(Store(settings.store.url), settings.store.model_dir), trigger="test")
    mean = outcome.version.details["feature_importance"]["mean"]
    assert "income" == max(mean, key=lambda name: mean[name] or 0.0)
