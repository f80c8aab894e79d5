"""The service's Prometheus metrics, through `bentoml.metrics` so every worker's samples reach /metrics.

Label values are bounded: classes come from the model, never from request values.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

with warnings.catch_warnings():
    # bentoml.metrics warns that it is deprecated, but it is what aggregates across BentoML's worker processes
    warnings.simplefilter("ignore", DeprecationWarning)
    import bentoml.metrics as bentoml_metrics

SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class ServiceMetrics:
    """Counters and gauges the service updates; created once per worker."""

    def __init__(self) -> None:
        self.predictions = bentoml_metrics.Counter(
            name="driftline_predictions_total",
            documentation='Predictions served, by predicted class (regressors: class="value").',
            labelnames=["class", "model_version"],
        )
        self.scores = bentoml_metrics.Histogram(
            name="driftline_prediction_score",
            documentation="Predicted probability of the positive class (binary) or predicted value (regression).",
            labelnames=["model_version"],
            buckets=SCORE_BUCKETS,
        )
        self.log_queue = bentoml_metrics.Gauge(
            name="driftline_prediction_log_queue_depth",
            documentation="Prediction records waiting to be written to the store.",
            multiprocess_mode="livesum",
        )
        self.log_dropped = bentoml_metrics.Counter(
            name="driftline_prediction_log_dropped_total",
            documentation="Prediction records dropped instead of written, by reason.",
            labelnames=["reason"],
        )
        for reason in ("queue full", "store write failed", "conversion failed", "log closed"):
            self.log_dropped.labels(reason=reason)  # exported as 0 from the start, so rates and alerts work
        self.model_version = bentoml_metrics.Gauge(
            name="driftline_model_version",
            documentation="The model version this worker serves.",
            multiprocess_mode="livemax",
        )
        self.batch_rows = bentoml_metrics.Histogram(
            name="driftline_request_rows",
            documentation="Rows per prediction request.",
            labelnames=["endpoint"],
            buckets=(1, 2, 5, 10, 20, 50, 100, 1000, 10_000, 100_000, 1_000_000),
        )

        self.rejected = bentoml_metrics.Counter(
            name="driftline_rejected_requests_total",
            documentation='Requests refused with a 4xx, by endpoint (unlisted paths: "other") and status.',
            labelnames=["endpoint", "status"],
        )
        self.swaps_refused = bentoml_metrics.Counter(
            name="driftline_model_swaps_refused_total",
            documentation="Production versions a worker refused to load (missing or tampered artifact), by version.",
            labelnames=["model_version"],
        )
        self.fetch_failures = bentoml_metrics.Counter(
            name="driftline_artifact_fetch_failures_total",
            documentation="Attempts to fetch a production version's files that found the artifact store unavailable.",
        )

        self.shadowed = bentoml_metrics.Counter(
            name="driftline_shadow_predictions_total",
            documentation="Rows the shadow predicted beside the production model (logged, never returned).",
        )
        self.shadow_skipped = bentoml_metrics.Counter(
            name="driftline_shadow_skipped_rows_total",
            documentation="Answered rows not predicted by the shadow: its queue was full (the service was saturated).",
        )
        self.shadow_failures = bentoml_metrics.Counter(
            name="driftline_shadow_failures_total",
            documentation="Shadows a worker stopped using because they failed, by stage (load, predict).",
            labelnames=["stage"],
        )

    def shadow_failed(self, stage: str) -> None:
        self.shadow_failures.labels(stage=stage).inc()

    def refused(self, endpoint: str, status: int) -> None:
        self.rejected.labels(endpoint=endpoint, status=str(status)).inc()

    def swap_refused(self, version: int, _error: Exception) -> None:
        self.swaps_refused.labels(model_version=str(version)).inc()

    def fetch_failed(self, _version: int, _error: Exception) -> None:
        self.fetch_failures.inc()

    def observe(self, version: int, outputs: list[dict[str, Any]], endpoint: str) -> None:
        """Counts by class and the score histogram of a few rows."""
        label = str(version)
        self.batch_rows.labels(endpoint=endpoint).observe(len(outputs))
        self.model_version.set(version)
        counts: dict[str, int] = {}
        for output in outputs:
            key = str(output["prediction"]) if "probabilities" in output else "value"
            counts[key] = counts.get(key, 0) + 1
            score = output.get("probability", output["prediction"] if "probabilities" not in output else None)
            if score is not None:
                self.scores.labels(model_version=label).observe(float(score))
        for key, count in counts.items():
            self.predictions.labels(**{"class": key, "model_version": label}).inc(count)

    def observe_table(self, version: int, predictions: np.ndarray, endpoint: str) -> None:
        """Class counts of a whole table at once (regressors: one count)."""
        label = str(version)
        self.batch_rows.labels(endpoint=endpoint).observe(len(predictions))
        if predictions.dtype.kind == "f":
            self.predictions.labels(**{"class": "value", "model_version": label}).inc(len(predictions))
            return
        values, counts = np.unique(predictions, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            self.predictions.labels(**{"class": str(value), "model_version": label}).inc(count)

    def dropped(self, count: int, reason: str) -> None:
        self.log_dropped.labels(reason=reason).inc(count)
