"""Holdout metrics for one fitted pipeline, and which of two metric values is better."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from driftline.core.settings import METRIC_DIRECTIONS


def holdout_metrics(pipeline: Any, features: pd.DataFrame, target: pd.Series, task: str) -> dict[str, Any]:
    """ROC AUC, accuracy, F1, log loss, Brier and the confusion matrix for classifiers; MAE, RMSE, R2 otherwise."""
    if task == "regression":
        predicted = np.asarray(pipeline.predict(features), dtype="float64")
        return {
            "mae": float(skm.mean_absolute_error(target, predicted)),
            "rmse": float(np.sqrt(skm.mean_squared_error(target, predicted))),
            "r2": float(skm.r2_score(target, predicted)),
        }
    class_array = np.asarray(pipeline.classes_)
    classes = list(class_array)
    probabilities = np.asarray(pipeline.predict_proba(features), dtype="float64")
    predicted = class_array[probabilities.argmax(axis=1)]
    truth = target.to_numpy().astype(class_array.dtype)
    binary = len(classes) == 2
    present = set(truth.tolist())
    result: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "f1": float(
            skm.f1_score(
                truth,
                predicted,
                average="binary" if binary else "macro",
                pos_label=classes[-1] if binary else 1,
                labels=classes,
            )
        ),
        "log_loss": float(skm.log_loss(truth, probabilities, labels=classes)),
        "confusion_matrix": skm.confusion_matrix(truth, predicted, labels=classes).tolist(),
        "classes": [c.item() if isinstance(c, np.generic) else c for c in classes],
    }
    if binary:
        positive = (truth == classes[1]).astype("float64")
        result["brier"] = float(np.mean((probabilities[:, 1] - positive) ** 2))
        result["roc_auc"] = (
            float(skm.roc_auc_score(positive, probabilities[:, 1])) if len(present) == 2 else float("nan")
        )
    else:
        one_hot = (truth[:, None] == class_array[None, :]).astype("float64")
        result["brier"] = float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))
        try:
            result["roc_auc"] = float(skm.roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes))
        except ValueError:
            result["roc_auc"] = float("nan")
    return result


def is_better(candidate: float, reference: float, metric: str, min_gain: float = 0.0) -> bool:
    """True when `candidate` beats `reference` on `metric` by more than `min_gain`."""
    if np.isnan(candidate):
        return False
    if np.isnan(reference):
        return True
    if METRIC_DIRECTIONS[metric]:
        return candidate - reference > min_gain
    return reference - candidate > min_gain


def model_outputs(pipeline: Any, features: pd.DataFrame, task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) on `features`."""
    if task == "regression":
        return np.asarray(pipeline.predict(features), dtype="float64")
    return np.asarray(pipeline.predict_proba(features), dtype="float64")


def metric_from_outputs(metric: str, truth: np.ndarray, outputs: np.ndarray, classes: np.ndarray | None) -> float:
    """One metric from `model_outputs` (probabilities ordered as `classes`), NaN when undefined on this sample."""
    try:
        if classes is None:
            scorers = {
                "mae": lambda: skm.mean_absolute_error(truth, outputs),
                "rmse": lambda: np.sqrt(skm.mean_squared_error(truth, outputs)),
                "r2": lambda: skm.r2_score(truth, outputs),
            }
            return float(scorers[metric]())
        if metric in ("accuracy", "f1"):
            predicted = classes[outputs.argmax(axis=1)]
            if metric == "accuracy":
                return float(skm.accuracy_score(truth, predicted))
            binary = len(classes) == 2
            return float(
                skm.f1_score(
                    truth,
                    predicted,
                    average="binary" if binary else "macro",
                    pos_label=classes[-1] if binary else 1,
                    labels=list(classes),
                )
            )
        if metric == "log_loss":
            return float(skm.log_loss(truth, outputs, labels=list(classes)))
        one_hot = (truth[:, None] == classes[None, :]).astype("float64")
        if metric == "brier":
            if len(classes) == 2:
                return float(np.mean((outputs[:, 1] - one_hot[:, 1]) ** 2))
            return float(np.mean(np.sum((outputs - one_hot) ** 2, axis=1)))
        if len(classes) == 2:
            return float(skm.roc_auc_score(one_hot[:, 1], outputs[:, 1]))
        return float(skm.roc_auc_score(truth, outputs, multi_class="ovr", labels=list(classes)))
    except ValueError:
        return float("nan")


def bootstrap_gain(
    metric: str,
    truth: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    classes: np.ndarray | None,
    *,
    rounds: int = 200,
    seed: int = 0,
) -> tuple[float, float]:
    """Paired bootstrap of the candidate's gain over the champion (positive = better): (mean, 5th percentile)."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if METRIC_DIRECTIONS[metric] else -1.0
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
    return float(values.mean()), float(np.percentile(values, 5))
