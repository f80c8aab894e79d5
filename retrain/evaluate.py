"""Holdout metrics for one fitted pipeline, and which of two metric values is better."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from driftline.core import CLASSIFICATION_METRICS, REGRESSION_METRICS, greater_is_better, metric_from_outputs


def holdout_metrics(
    pipeline: Any, features: pd.DataFrame, target: pd.Series, task: str, metric: str | None = None
) -> dict[str, Any]:
    """ROC AUC, accuracy, F1, log loss, Brier and the confusion matrix for classifiers; MAE, RMSE, R2 otherwise;
    plus `metric` (the configured one) when it is a scikit-learn scorer name outside those."""
    outputs = model_outputs(pipeline, features, task)
    if task == "regression":
        truth = target.to_numpy(dtype="float64")
        names = list(REGRESSION_METRICS) + ([metric] if metric and metric not in REGRESSION_METRICS else [])
        return {name: metric_from_outputs(name, truth, outputs, None) for name in names}
    classes = np.asarray(pipeline.classes_)
    truth = target.to_numpy().astype(classes.dtype)
    names = list(CLASSIFICATION_METRICS) + ([metric] if metric and metric not in CLASSIFICATION_METRICS else [])
    result: dict[str, Any] = {name: metric_from_outputs(name, truth, outputs, classes) for name in names}
    predicted = classes[outputs.argmax(axis=1)]
    result["confusion_matrix"] = skm.confusion_matrix(truth, predicted, labels=list(classes)).tolist()
    result["classes"] = [c.item() if isinstance(c, np.generic) else c for c in classes]
    return result


def is_better(candidate: float, reference: float, metric: str, min_gain: float = 0.0) -> bool:
    """True when `candidate` beats `reference` on `metric` by more than `min_gain`."""
    if np.isnan(candidate):
        return False
    if np.isnan(reference):
        return True
    if greater_is_better(metric):
        return candidate - reference > min_gain
    return reference - candidate > min_gain


def model_outputs(pipeline: Any, features: pd.DataFrame, task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) on `features`."""
    if task == "regression":
        return np.asarray(pipeline.predict(features), dtype="float64")
    return np.asarray(pipeline.predict_proba(features), dtype="float64")


def bootstrap_gain(
    metric: str,
    truth: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    classes: np.ndarray | None,
    *,
    rounds: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Paired bootstrap of the candidate's gain over the champion (positive = better): (mean, lower bound)."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if greater_is_better(metric) else -1.0
    gains = []
    for _ in range(rounds):
        index = rng.integers(0, len(truth), len(truth))
        gain = sign * (
            metric_from_outputs(metric, truth[index], candidate[index], classes)
            - metric_from_outputs(metric, truth[index], champion[index], classes)
        )
        if not np.isnan(gain):
            gains.append(gain)
    if not gains:
        return float("nan"), float("nan")
    values = np.asarray(gains)
    return float(values.mean()), float(np.percentile(values, 100 * (1 - confidence)))
