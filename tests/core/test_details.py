from __future__ import annotations

from driftline.core import VersionDetails, compared_values


def test_compared_values_are_the_version_and_baseline_values_of_its_metric() -> None:
    """The pair `driftline status` shows: the metric the version was compared on, on each side."""
    details: VersionDetails = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {},
        "metric": "roc_auc",
        "metrics": {"roc_auc": 0.81, "accuracy": 0.7},
        "baseline_metrics": {"roc_auc": 0.5, "accuracy": 0.6},
        "data": {"source": "loans.csv", "rows_train": 80, "rows_holdout": 20, "rows_reference": 80},
        "code_version": "0.1.0",
        "trigger": "test",
        "run_id": 1,
    }
    assert (0.81, 0.5) == compared_values(details)


def test_compared_values_of_details_without_metrics_are_none() -> None:
    """Details written without metrics (an older or hand-made row) show nothing rather than fail."""
    assert (None, None) == compared_values({"metric": "roc_auc"})
