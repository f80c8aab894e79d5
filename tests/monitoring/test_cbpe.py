"""CBPE's estimates on tiny cases whose expected value is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitoring import cbpe


def test_on_calibrated_probabilities_estimated_accuracy_is_the_mean_max_probability() -> None:
    """With P(positive) taken as the truth, a row is right with its larger class probability."""
    p = np.array([0.9, 0.2, 0.6, 0.45, 0.7])
    predicted = (p > 0.5).astype(int)
    assert np.maximum(p, 1 - p).mean() == pytest.approx(cbpe.estimated_accuracy(p, predicted))


def test_estimated_f1_is_the_f1_of_the_expected_confusion_matrix() -> None:
    """TP 1.7, FP 0.3, FN 0.5 give F1 = 1.7 / (1.7 + 0.4)."""
    p = np.array([0.9, 0.8, 0.3, 0.2])
    predicted = np.array([1, 1, 0, 0])
    assert 1.7 / 2.1 == pytest.approx(cbpe.estimated_f1(p, predicted))


def test_with_certain_probabilities_the_estimated_roc_auc_is_the_realized_one() -> None:
    """Calibrated probabilities of exactly 0 or 1 are the labels, so the expected ROC curve is the real one."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 200)
    scores = np.round(truth * 0.3 + rng.random(200), 2)  # ties included
    assert roc_auc_score(truth, scores) == pytest.approx(cbpe.estimated_roc_auc(truth.astype(float), scores))


def test_miscalibrated_probabilities_are_calibrated() -> None:
    """Scores that are the cube of the true probability: isotonic regression lowers the calibration error."""
    rng = np.random.default_rng(1)
    true_p = rng.random(5000)
    truth = (rng.random(5000) < true_p).astype(int)
    assert cbpe.fit_calibrator(truth, true_p**3) is not None


def test_scores_that_separate_the_classes_are_left_alone() -> None:
    """Above a ROC AUC of 0.999 there is nothing for calibration to learn, so none is kept."""
    truth = np.r_[np.zeros(500, dtype=int), np.ones(500, dtype=int)]
    scores = np.r_[np.linspace(0.0, 0.4, 500), np.linspace(0.6, 1.0, 500)]
    assert cbpe.fit_calibrator(truth, scores) is None


def test_the_accuracy_standard_error_is_the_spread_of_correctness_over_root_n() -> None:
    """Half right, half wrong: a spread of 0.5, so 0.05 on 100 rows."""
    truth = np.array([1, 0, 1, 0])
    predicted = np.array([1, 0, 0, 1])
    error = cbpe.sampling_error("accuracy", truth, truth.astype(float), predicted)
    assert 0.05 == pytest.approx(error.standard_error(100))
