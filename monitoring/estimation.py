"""The production model's metric on a window before any label arrives: CBPE for binary classifiers, DLE for
regressors, fitted on the version's performance reference (its holdout outputs with their labels).

Each version carries that reference from training (`performance.parquet`, and `nanny.joblib` for a regressor).
From it a check learns, once per version, whether to calibrate, how large the sampling error is, and where the
alert threshold lies: the metric over window-sized chunks of the reference, its mean minus (for an error metric,
plus) `threshold_std` standard deviations. A holdout too small for `reference_chunks` window-sized chunks is cut
into smaller ones, and their spread scaled to a window's size by sqrt(chunk rows / window rows), since a metric's
spread shrinks with the square root of the rows it averages. What cannot be estimated (a multiclass model, a
metric CBPE or DLE does not define, a version trained before performance references existed) is reported with its
reason instead of a value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core import (
    PREDICTION_COLUMN,
    ArtifactIntegrityError,
    EstimationSettings,
    FeatureSchema,
    Registry,
    greater_is_better,
)
from monitoring import cbpe, dle

TRUTH_COLUMN = "__truth__"  # the label: 1/0 for the positive class of a binary classifier, the value for a regressor
PREDICTED_COLUMN = "__predicted__"  # 1 where a binary classifier predicted its positive (last) class
OUTPUT_COLUMN = "__output__"  # a window row's logged output, as `monitoring.window` builds the sample
SMALLEST_CHUNK = 50  # rows; a metric over fewer says little about its spread over a window


@dataclass(frozen=True)
class EstimatedPerformance:
    """One window's estimate, its sampling-error band and its alert threshold; `reason` when there is none."""

    metric: str
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    threshold: float | None = None
    alert: bool = False
    rows: int = 0
    method: str | None = None  # "cbpe" or "dle"
    calibrated: bool | None = None  # CBPE only: whether isotonic calibration was kept
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance_frame(schema: FeatureSchema, truth: Sequence[Any], outputs: np.ndarray) -> pd.DataFrame:
    """A version's performance reference from its holdout labels and outputs (class probabilities ordered as
    `schema.classes`, or predicted values): what training stores and `fit_estimator` reads."""
    if schema.task == "regression":
        return pd.DataFrame(
            {TRUTH_COLUMN: np.asarray(truth, dtype="float64"), PREDICTION_COLUMN: np.asarray(outputs, dtype="float64")}
        )
    positive = str(schema.classes[-1])
    return pd.DataFrame(
        {
            TRUTH_COLUMN: np.asarray([str(t) == positive for t in truth], dtype="int64"),
            PREDICTION_COLUMN: outputs[:, -1].astype("float64"),
            PREDICTED_COLUMN: (outputs.argmax(axis=1) == outputs.shape[1] - 1).astype("int64"),
        }
    )


def refusal(schema: FeatureSchema, metric: str) -> str | None:
    """Why `metric` of a model with `schema` is not estimated, or None when it is."""
    if schema.task == "classification" and len(schema.classes) != 2:
        return (
            f"not estimated for a classifier of {len(schema.classes)} classes: CBPE is implemented for binary "
            "classifiers only"
        )
    allowed = cbpe.CBPE_METRICS if schema.task == "classification" else dle.DLE_METRICS
    if metric not in allowed:
        method = "CBPE" if schema.task == "classification" else "DLE"
        return f"{metric} is not estimated; {method} estimates {', '.join(allowed)}"
    return None


@dataclass(frozen=True)
class Estimator:
    """A fitted estimate of one metric: `point` turns a window's sample into a value, `standard_error` a row count
    into the value's standard error."""

    method: str
    metric: str
    point: Callable[[pd.DataFrame], float]
    standard_error: Callable[[int], float]
    threshold: float | None
    bands: float
    limits: tuple[float, float]
    calibrated: bool | None = None

    def estimate(self, sample: pd.DataFrame) -> EstimatedPerformance:
        rows = int(sample[PREDICTION_COLUMN].notna().sum()) if len(sample) else 0
        if rows == 0:
            return EstimatedPerformance(self.metric, method=self.method, reason="no logged outputs in the window")
        value = self.point(sample)
        if math.isnan(value):
            return EstimatedPerformance(self.metric, rows=rows, method=self.method, reason="undefined on this window")
        half_width = self.bands * self.standard_error(rows)
        low, high = self.limits
        return EstimatedPerformance(
            metric=self.metric,
            value=value,
            lower=max(low, value - half_width) if not math.isnan(half_width) else None,
            upper=min(high, value + half_width) if not math.isnan(half_width) else None,
            threshold=self.threshold,
            alert=self.threshold is not None and _worse(self.metric, value, self.threshold),
            rows=rows,
            method=self.method,
            calibrated=self.calibrated,
        )


def _worse(metric: str, value: float, threshold: float) -> bool:
    return value < threshold if greater_is_better(metric) else value > threshold


def reference_threshold(
    metric: str,
    values: Callable[[int], list[float]],
    reference_rows: int,
    window_rows: int,
    settings: EstimationSettings,
) -> float | None:
    """The alert threshold derived from the reference (see the module docstring); None when it is too small.

    `values(chunk_rows)` is the realized metric on each consecutive chunk of that many reference rows."""
    chunk_rows = min(window_rows, reference_rows // settings.reference_chunks)
    if chunk_rows < SMALLEST_CHUNK:
        return None
    found = np.asarray([v for v in values(chunk_rows) if not math.isnan(v)], dtype="float64")
    if len(found) < 2:
        return None
    spread = float(np.std(found)) * math.sqrt(chunk_rows / window_rows)
    sign = -1.0 if greater_is_better(metric) else 1.0
    return float(np.mean(found)) + sign * settings.threshold_std * spread


def chunked(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    """Consecutive chunks of `rows` rows; the incomplete tail is left out."""
    return [frame.iloc[start : start + rows] for start in range(0, len(frame) - rows + 1, rows)]


def fit_cbpe(
    reference: pd.DataFrame, schema: FeatureSchema, metric: str, window_rows: int, settings: EstimationSettings
) -> Estimator:
    """CBPE of `metric` for a binary classifier, from its performance reference."""
    truth = reference[TRUTH_COLUMN].to_numpy(dtype="int64")
    p = reference[PREDICTION_COLUMN].to_numpy(dtype="float64")
    predicted = reference[PREDICTED_COLUMN].to_numpy(dtype="int64")
    calibrator = cbpe.fit_calibrator(truth, p)
    error = cbpe.sampling_error(metric, truth, p, predicted)
    positive = str(schema.classes[-1])

    def point(sample: pd.DataFrame) -> float:
        known = sample[sample[PREDICTION_COLUMN].notna()]
        raw = known[PREDICTION_COLUMN].to_numpy(dtype="float64")
        calibrated = calibrator.predict(raw) if calibrator is not None else raw
        chosen = np.asarray([str(o.get("prediction")) == positive for o in known[OUTPUT_COLUMN]], dtype="int64")
        return cbpe.estimate(metric, calibrated, raw, chosen)

    def realized(rows: int) -> list[float]:
        return [
            cbpe.realized(
                metric,
                c[TRUTH_COLUMN].to_numpy(dtype="int64"),
                c[PREDICTION_COLUMN].to_numpy(dtype="float64"),
                c[PREDICTED_COLUMN].to_numpy(dtype="int64"),
            )
            for c in chunked(reference, rows)
        ]

    threshold = _threshold(metric, realized, len(reference), window_rows, settings)
    return Estimator(
        "cbpe",
        metric,
        point,
        error.standard_error,
        threshold,
        settings.band_standard_errors,
        (0.0, 1.0),
        calibrator is not None,
    )


def fit_dle(
    reference: pd.DataFrame,
    nanny: dict[str, Any],
    schema: FeatureSchema,
    metric: str,
    window_rows: int,
    settings: EstimationSettings,
) -> Estimator:
    """DLE of `metric` for a regressor, from its performance reference and the nanny models fitted at training."""
    truth = reference[TRUTH_COLUMN].to_numpy(dtype="float64")
    prediction = reference[PREDICTION_COLUMN].to_numpy(dtype="float64")
    spread = dle.LossSpread.of(metric, truth, prediction)
    model = nanny[metric]

    def point(sample: pd.DataFrame) -> float:
        known = sample[sample[PREDICTION_COLUMN].notna()]
        return dle.estimate(metric, model, dle.nanny_inputs(known, schema))

    def realized(rows: int) -> list[float]:
        return [
            dle.realized(
                metric, c[TRUTH_COLUMN].to_numpy(dtype="float64"), c[PREDICTION_COLUMN].to_numpy(dtype="float64")
            )
            for c in chunked(reference, rows)
        ]

    threshold = _threshold(metric, realized, len(reference), window_rows, settings)
    return Estimator(
        "dle", metric, point, spread.standard_error, threshold, settings.band_standard_errors, (0.0, math.inf)
    )


def _threshold(
    metric: str,
    realized: Callable[[int], list[float]],
    reference_rows: int,
    window_rows: int,
    settings: EstimationSettings,
) -> float | None:
    if settings.threshold is not None:
        return settings.threshold
    return reference_threshold(metric, realized, reference_rows, window_rows, settings)


class PerformanceEstimation:
    """Estimates for the production version's windows, fitting each version's estimator once."""

    def __init__(self, registry: Registry, metric: str, window_rows: int, settings: EstimationSettings) -> None:
        self.registry = registry
        self.metric = metric
        self.window_rows = window_rows
        self.settings = settings
        self._fitted: dict[int, Estimator | str] = {}

    def estimator(self, version: int) -> Estimator | str:
        """The version's fitted estimator, or why it has none."""
        if version not in self._fitted:
            try:
                fitted = self._fit(version)
            except ArtifactIntegrityError as exc:  # the drift check stands without its estimate
                fitted = f"the performance reference cannot be used: {exc}"
            self._fitted = {version: fitted}
        return self._fitted[version]

    def _fit(self, version: int) -> Estimator | str:
        if not self.settings.enabled:
            return "estimation is turned off (monitoring.estimation.enabled)"
        schema = self.registry.get(version).schema
        refused = refusal(schema, self.metric)
        if refused is not None:
            return refused
        reference = self.registry.performance_reference(version)
        if reference is None:
            return f"version {version} was trained without a performance reference; retrain to estimate"
        if schema.task == "classification":
            return fit_cbpe(reference, schema, self.metric, self.window_rows, self.settings)
        nanny = self.registry.nanny(version)
        if nanny is None or self.metric not in nanny:
            return f"version {version} has no nanny model for {self.metric}; retrain to estimate"
        return fit_dle(reference, nanny, schema, self.metric, self.window_rows, self.settings)

    def estimate(self, version: int, sample: pd.DataFrame) -> EstimatedPerformance:
        """The estimate on a window's sample of `version`'s traffic, or the reason there is none."""
        fitted = self.estimator(version)
        if isinstance(fitted, str):
            return EstimatedPerformance(self.metric, reason=fitted)
        return fitted.estimate(sample)
