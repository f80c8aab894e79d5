"""One metric from a model's outputs (class probabilities or predicted values) and the truth.

Shared by the retrain guardrail (scoring the candidate and the champion on a holdout) and the monitor (scoring the
production model's logged outputs against late labels), so both compute a metric the same way.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


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
