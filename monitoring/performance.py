"""The production model's metric on the labelled rows of a window, from the outputs it logged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftline.core import FeatureSchema, metric_from_outputs


def live_metric(metric: str, outputs: list[dict[str, Any]], labels: list[Any], schema: FeatureSchema) -> float | None:
    """`metric` of the logged outputs against the late labels; None when it cannot be computed (e.g. one class)."""
    if not outputs:
        return None
    if schema.task == "regression":
        if len(outputs) < 2:
            return None
        truth = np.asarray(labels, dtype="float64")
        predicted = np.asarray([o["prediction"] for o in outputs], dtype="float64")
        value = metric_from_outputs(metric, truth, predicted, None)
    else:
        classes = np.asarray([str(c) for c in schema.classes])
        truth = np.asarray([str(label) for label in labels])
        probabilities = np.asarray(
            [[o["probabilities"].get(c, 0.0) for c in classes] for o in outputs], dtype="float64"
        )
        value = metric_from_outputs(metric, truth, probabilities, classes)
    return None if math.isnan(value) else value
