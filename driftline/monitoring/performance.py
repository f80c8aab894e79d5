"""The production model's metric on the labelled rows of a window, from the outputs it logged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

from driftline.core.schema import FeatureSchema


def live_metric(metric: str, outputs: list[dict[str, Any]], labels: list[Any], schema: FeatureSchema) -> float | None:
    """`metric` of the logged outputs against the late labels; None when it cannot be computed (e.g. one class)."""
    if not outputs:
        return None
    if schema.task == "regression":
        truth = np.asarray(labels, dtype="float64")
        predicted = np.asarray([o["prediction"] for o in outputs], dtype="float64")
        scorers = {
            "mae": lambda: skm.mean_absolute_error(truth, predicted),
            "rmse": lambda: math.sqrt(skm.mean_squared_error(truth, predicted)),
            "r2": lambda: skm.r2_score(truth, predicted),
        }
        return float(scorers[metric]()) if len(truth) > 1 else None
    classes = [str(c) for c in schema.classes]
    truth_text = np.asarray([str(label) for label in labels])
    predicted_text = np.asarray([str(o["prediction"]) for o in outputs])
    probabilities = np.asarray([[o["probabilities"].get(c, 0.0) for c in classes] for o in outputs], dtype="float64")
    present = set(truth_text.tolist())
    try:
        if metric == "accuracy":
            return float(skm.accuracy_score(truth_text, predicted_text))
        if metric == "f1":
            binary = len(classes) == 2
            return float(
                skm.f1_score(
                    truth_text,
                    predicted_text,
                    average="binary" if binary else "macro",
                    pos_label=classes[-1] if binary else 1,
                    labels=classes,
                )
            )
        if metric == "log_loss":
            return float(skm.log_loss(truth_text, probabilities, labels=classes))
        one_hot = (truth_text[:, None] == np.asarray(classes)[None, :]).astype("float64")
        if metric == "brier":
            if len(classes) == 2:
                return float(np.mean((probabilities[:, 1] - one_hot[:, 1]) ** 2))
            return float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))
        if metric == "roc_auc":
            if len(present) < 2:
                return None
            if len(classes) == 2:
                return float(skm.roc_auc_score(one_hot[:, 1], probabilities[:, 1]))
            return float(skm.roc_auc_score(truth_text, probabilities, multi_class="ovr", labels=classes))
    except ValueError:
        return None
    return None
