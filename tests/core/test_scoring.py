from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from driftline.core import metric_from_outputs
from driftline.core.scoring import scorer_task


def test_a_classification_scorer_reads_probabilities_with_the_last_class_positive() -> None:
    """average_precision and neg_log_loss from stored probabilities equal scikit-learn's on the same values."""
    rng = np.random.default_rng(0)
    classes = np.array(["no", "yes"], dtype=object)
    positive = rng.random(200)
    truth = classes[(rng.random(200) < positive).astype(int)]
    outputs = np.column_stack([1 - positive, positive])
    expected = (
        skm.average_precision_score(truth == "yes", positive),
        -skm.log_loss(truth, outputs, labels=list(classes)),
        skm.balanced_accuracy_score(truth, classes[(positive > 0.5).astype(int)]),
    )
    actual = tuple(
        metric_from_outputs(name, truth, outputs, classes)
        for name in ("average_precision", "neg_log_loss", "balanced_accuracy")
    )
    assert expected == pytest.approx(actual)


def test_a_regression_scorer_is_signed_so_larger_is_better() -> None:
    """neg_root_mean_squared_error is minus the RMSE."""
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    outputs = np.array([1.0, 2.0, 3.0, 6.0])
    assert -1.0 == metric_from_outputs("neg_root_mean_squared_error", truth, outputs, None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("neg_mean_absolute_error", "regression"),
        ("explained_variance", "regression"),
        ("average_precision", "classification"),
        ("neg_brier_score", "classification"),
        ("positive_likelihood_ratio", "classification"),
        ("adjusted_rand_score", None),
        ("no_such_scorer", None),
    ],
)
def test_scorer_task_names_the_task_a_scorer_fits(name: str, expected: str | None) -> None:
    """Classification, ranking and regression scorers map to their task; clustering and unknown names to none."""
    assert expected == scorer_task(name)
