"""Confidence-based performance estimation (CBPE) of a binary classifier: its metric from probabilities alone.

When the probabilities are calibrated, P(positive) of a row is the chance that its label is positive, so every
cell of the confusion matrix, and the ROC curve, has an expected value without any label: a row predicted
positive with probability 0.8 counts 0.8 true positive and 0.2 false positive. That holds only if the model is
still calibrated on live traffic: CBPE assumes the relation between features and label is unchanged (covariate
shift only), so it misses concept drift. The method and its sampling-error approximations are those of NannyML
(`nannyml.performance_estimation.confidence_based`, `nannyml.calibration`, `nannyml.sampling_error`).

Every function takes the positive-class probability `p` (0..1), the model's predicted class as 0/1 and, on the
reference, the true class as 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from driftline.core import ESTIMATED_METRICS

CBPE_METRICS = ESTIMATED_METRICS["classification"]


def expected_calibration_error(truth: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and observed positive rate over `bins` equal-count bins of sorted scores."""
    order = np.argsort(p, kind="stable")
    count = min(bins, max(len(p) // 2, 1))
    gaps = [
        len(part) * abs(float(p[part].mean()) - float(truth[part].mean()))
        for part in np.array_split(order, count)
        if len(part)
    ]
    return float(sum(gaps) / len(p))


def fit_calibrator(truth: np.ndarray, p: np.ndarray, seed: int = 42) -> IsotonicRegression | None:
    """Isotonic regression of the label on `p`, or None when it would not lower the expected calibration error.

    The decision is made as NannyML makes it: ten stratified 90/10 splits, each fitting on 90 % and calibrating the
    other 10 %; the pooled held-out scores' error before and after calibration decides. Near-perfect separation
    (ROC AUC above 0.999) and a single class are left alone: there is nothing to learn from them.
    """
    if len(np.unique(truth)) < 2 or roc_auc_score(truth, p) > 0.999:
        return None
    splits = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=seed)
    held_truth, held_raw, held_calibrated = [], [], []
    for train, test in splits.split(p.reshape(-1, 1), truth):
        isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p[train], truth[train])
        held_truth.append(truth[test])
        held_raw.append(p[test])
        held_calibrated.append(isotonic.predict(p[test]))
    pooled = np.concatenate(held_truth)
    before = expected_calibration_error(pooled, np.concatenate(held_raw))
    after = expected_calibration_error(pooled, np.concatenate(held_calibrated))
    if after >= before:
        return None
    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, truth)


def estimated_roc_auc(calibrated: np.ndarray, raw: np.ndarray) -> float:
    """Area under the expected ROC curve: rows ranked by the model's own score, each counting `calibrated`
    expected positives and 1 - `calibrated` expected negatives; tied scores form one step."""
    order = np.argsort(-raw, kind="stable")
    ranked, expected = raw[order], calibrated[order]
    ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # last row of each distinct score
    positives = np.r_[0.0, np.cumsum(expected)[ends]]
    negatives = np.r_[0.0, np.cumsum(1.0 - expected)[ends]]
    if positives[-1] <= 0 or negatives[-1] <= 0:
        return float("nan")
    return float(np.trapezoid(positives / positives[-1], negatives / negatives[-1]))


def estimated_accuracy(calibrated: np.ndarray, predicted: np.ndarray) -> float:
    """Expected share of correct predictions: P(positive) where positive was predicted, 1 - P elsewhere."""
    return float(np.mean(np.where(predicted == 1, calibrated, 1.0 - calibrated)))


def estimated_f1(calibrated: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of the expected confusion matrix."""
    true_positive = float(np.sum(np.where(predicted == 1, calibrated, 0.0)))
    false_positive = float(np.sum(np.where(predicted == 1, 1.0 - calibrated, 0.0)))
    false_negative = float(np.sum(np.where(predicted == 0, calibrated, 0.0)))
    denominator = true_positive + 0.5 * (false_positive + false_negative)
    return true_positive / denominator if denominator > 0 else 0.0


def realized(metric: str, truth: np.ndarray, p: np.ndarray, predicted: np.ndarray) -> float:
    """The metric itself, from labels: what the estimate stands in for."""
    if metric == "roc_auc":
        return float(roc_auc_score(truth, p)) if len(np.unique(truth)) == 2 else float("nan")
    if metric == "accuracy":
        return float(np.mean(truth == predicted))
    true_positive = float(np.sum((predicted == 1) & (truth == 1)))
    wrong = float(np.sum(predicted != truth))
    return true_positive / (true_positive + 0.5 * wrong) if true_positive + wrong > 0 else 0.0


@dataclass(frozen=True)
class SamplingError:
    """How the standard error of the metric shrinks with the rows it is computed on, measured on the reference:
    `spread / sqrt(rows * share)`, where `share` is the fraction of rows the metric is really an average over."""

    spread: float
    share: float

    def standard_error(self, rows: int) -> float:
        if rows <= 0 or self.share <= 0:
            return float("nan")
        return self.spread / float(np.sqrt(rows * self.share))


def sampling_error(metric: str, truth: np.ndarray, p: np.ndarray, predicted: np.ndarray) -> SamplingError:
    """The reference's sampling-error components for `metric` (NannyML's approximations).

    ROC AUC is a Mann-Whitney statistic: the average over positive rows of the share of negatives ranked below
    each, so its spread is that of those shares over the positives (the minority class is taken as positive).
    Accuracy is a mean of 0/1 correctness over all rows. F1 is, up to a constant, a mean over the rows that are
    true positive, false positive or false negative.
    """
    if metric == "roc_auc":
        positive, score = (truth, p) if truth.mean() <= 0.5 else (1 - truth, 1.0 - p)
        order = np.argsort(score, kind="stable")
        ranked = positive[order]
        negatives_below = np.cumsum(1 - ranked)[ranked == 1]
        shares = negatives_below / max(float(np.sum(1 - ranked)), 1.0)
        return SamplingError(float(np.std(shares)), float(ranked.mean()))
    if metric == "accuracy":
        return SamplingError(float(np.std(truth == predicted)), 1.0)
    true_positive = int(np.sum((predicted == 1) & (truth == 1)))
    wrong = int(np.sum(predicted != truth))
    relevant = true_positive + wrong
    if relevant == 0:
        return SamplingError(float("nan"), 0.0)
    scale = relevant / (true_positive + 0.5 * wrong)
    observations = np.r_[np.ones(true_positive), np.zeros(wrong)] * scale
    return SamplingError(float(np.std(observations)), relevant / len(truth))


def estimate(metric: str, calibrated: np.ndarray, raw: np.ndarray, predicted: np.ndarray) -> float:
    """The CBPE estimate of `metric` (one of CBPE_METRICS) from calibrated and raw probabilities."""
    if metric == "roc_auc":
        return estimated_roc_auc(calibrated, raw)
    if metric == "accuracy":
        return estimated_accuracy(calibrated, predicted)
    return estimated_f1(calibrated, predicted)
