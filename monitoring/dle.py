"""Direct loss estimation (DLE) of a regressor: its MAE or RMSE on a window from features and predictions alone.

A "nanny" model, fitted at training on the holdout, learns each row's loss (absolute or squared error) from the
row's features and the model's prediction; averaged over a window, its predictions estimate the window's MAE (or,
square-rooted, its RMSE). Like NannyML's DLE (`nannyml.performance_estimation.direct_loss_estimation`), it
assumes the relation between features and target is unchanged. The nanny's inputs are built here, in one place,
for the trainer that fits it and for the checks that use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core import ESTIMATED_METRICS, PREDICTION_COLUMN, FeatureSchema

DLE_METRICS = ESTIMATED_METRICS["regression"]


def nanny_inputs(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """The features and the model's prediction, numbers as floats and categories as strings (missing as NaN, which
    the nanny's encoder keeps apart from every category)."""
    columns: dict[str, Any] = {}
    for name in schema.numeric:
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64").to_numpy()
    for name in schema.categorical:
        values = frame[name].astype(object)
        columns[name] = np.where(values.notna(), values.astype(str), np.nan).astype(object)
    columns[PREDICTION_COLUMN] = pd.to_numeric(frame[PREDICTION_COLUMN], errors="coerce").astype("float64").to_numpy()
    return pd.DataFrame(columns, index=range(len(frame)))


def row_loss(metric: str, truth: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """What the nanny learns for `metric`: the absolute error (MAE) or the squared error (RMSE)."""
    error = truth - prediction
    return np.abs(error) if metric == "mae" else error**2


def estimate(metric: str, nanny: Any, inputs: pd.DataFrame) -> float:
    """The window's metric from the nanny's per-row losses (negative predictions clipped to 0)."""
    losses = np.maximum(np.asarray(nanny.predict(inputs), dtype="float64"), 0.0)
    mean = float(losses.mean())
    return mean if metric == "mae" else float(np.sqrt(mean))


def realized(metric: str, truth: np.ndarray, prediction: np.ndarray) -> float:
    mean = float(row_loss(metric, truth, prediction).mean())
    return mean if metric == "mae" else float(np.sqrt(mean))


@dataclass(frozen=True)
class LossSpread:
    """The reference's per-row loss, summarised for the sampling error (NannyML's approximations): the MAE is a
    mean of absolute errors (standard error std/sqrt(n)); the RMSE's follows from the squared errors by the delta
    method, sqrt(var / (4 n mean))."""

    metric: str
    std: float
    mean: float

    @classmethod
    def of(cls, metric: str, truth: np.ndarray, prediction: np.ndarray) -> LossSpread:
        losses = row_loss(metric, truth, prediction)
        return cls(metric, float(np.std(losses)), float(np.mean(losses)))

    def standard_error(self, rows: int) -> float:
        if rows <= 0:
            return float("nan")
        if self.metric == "mae":
            return self.std / float(np.sqrt(rows))
        if self.mean <= 0:
            return 0.0
        return float(np.sqrt(self.std**2 / (4 * rows * self.mean)))
