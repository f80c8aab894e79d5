"""One metric from a model's outputs (class probabilities or predicted values) and the truth.

Shared by the retrain guardrail (scoring the candidate and the champion on a holdout) and the monitor (scoring the
production model's logged outputs against late labels), so both compute a metric the same way.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

# the module of a scorer's score function tells the task it fits; clustering scorers fit neither
_SCORER_TASKS = {
    "sklearn.metrics._classification": "classification",
    "sklearn.metrics._ranking": "classification",
    "sklearn.metrics._scorer": "classification",
    "sklearn.metrics._regression": "regression",
}


def scorer_task(name: str) -> str | None:
    """The task ("classification" or "regression") a scikit-learn scorer name fits; None for neither or unknown."""
    if name not in skm.get_scorer_names():
        return None
    return _SCORER_TASKS.get(skm.get_scorer(name)._score_func.__module__)


def metric_from_outputs(metric: str, truth: np.ndarray, outputs: np.ndarray, classes: np.ndarray | None) -> float:
    """One metric from `model_outputs` (probabilities ordered as `classes`), NaN when undefined on this sample."""
    try:
        if metric in _SHORT_METRICS:
            return _short_metric(metric, truth, outputs, classes)
        return _scorer_metric(metric, truth, outputs, classes)
    except ValueError:
        return float("nan")


_SHORT_METRICS = ("roc_auc", "accuracy", "f1", "log_loss", "brier", "mae", "rmse", "r2")


def _short_metric(metric: str, truth: np.ndarray, outputs: np.ndarray, classes: np.ndarray | None) -> float:
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


class _Outputs(BaseEstimator):
    """Stands in for the model so a scikit-learn scorer reads the outputs already computed instead of refitting."""

    def __init__(self, outputs: np.ndarray, classes: np.ndarray | None) -> None:
        self.outputs = outputs
        self.classes = classes

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict(self, _: Any) -> np.ndarray:
        if self.classes is None:
            return self.outputs
        return self.classes[self.outputs.argmax(axis=1)]


class _ClassifierOutputs(ClassifierMixin, _Outputs):
    @property
    def classes_(self) -> np.ndarray | None:
        return self.classes

    def predict_proba(self, _: Any) -> np.ndarray:
        return self.outputs


class _RegressorOutputs(RegressorMixin, _Outputs):
    pass


def _scorer_metric(metric: str, truth: np.ndarray, outputs: np.ndarray, classes: np.ndarray | None) -> float:
    scorer = skm.get_scorer(metric)
    if classes is None:
        return float(scorer(_RegressorOutputs(outputs, None), np.zeros((len(truth), 1)), truth))
    parameters = inspect.signature(scorer._score_func).parameters
    if len(classes) == 2 and "pos_label" in parameters and "pos_label" not in scorer._kwargs:
        # scikit-learn's default positive label is 1; the model's last class is the positive one, as for `f1`
        scorer = copy.copy(scorer)
        scorer._kwargs = {**scorer._kwargs, "pos_label": classes[-1]}
    return float(scorer(_ClassifierOutputs(outputs, classes), np.zeros((len(truth), 1)), truth))
