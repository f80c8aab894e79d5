"""The monitor's Prometheus metrics, on a registry of its own (not the service's multi-process one)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from driftline.core import RetrainBackoff
from monitoring.check import CheckResult
from monitoring.drift import DriftResult
from monitoring.estimation import EstimatedPerformance

PRUNED_TABLES = ("predictions", "feedback", "shadow_predictions", "checks", "model_versions", "artifacts", "reports")
"""The `table` label values of `driftline_pruned_rows_total`."""


class MonitorMetrics:
    """Gauges set from each check; counters of checks, retrains and promotions."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.feature_score = Gauge(
            "driftline_feature_drift_score", "Drift test score per feature (see test info).", ["feature"], registry=r
        )
        self.feature_threshold = Gauge(
            "driftline_feature_drift_threshold", "Drift test threshold per feature.", ["feature"], registry=r
        )
        self.feature_drifted = Gauge(
            "driftline_feature_drifted", "1 when the feature drifted in the last check.", ["feature"], registry=r
        )
        self.feature_test = Gauge(
            "driftline_feature_drift_test_info",
            "Drift test used per feature (value 1).",
            ["feature", "test", "direction"],
            registry=r,
        )
        self.drift_share = Gauge(
            "driftline_drift_share", "Share of features that drifted in the last check.", registry=r
        )
        self.drift_share_threshold = Gauge(
            "driftline_drift_share_threshold", "Dataset drift threshold on the drift share.", registry=r
        )
        self.dataset_drift = Gauge("driftline_dataset_drift", "1 when the last check found dataset drift.", registry=r)
        self.prediction_score = Gauge(
            "driftline_prediction_drift_score", "Drift score of the model's predictions.", registry=r
        )
        self.prediction_drifted = Gauge("driftline_prediction_drifted", "1 when the predictions drifted.", registry=r)
        self.feature_importance = Gauge(
            "driftline_feature_importance",
            "Permutation importance per feature on the production version's holdout (loss of its metric).",
            ["feature"],
            registry=r,
        )
        self.weighted_drift_score = Gauge(
            "driftline_weighted_drift_score", "Share of feature importance on drifted features.", registry=r
        )
        self.weighted_drift_threshold = Gauge(
            "driftline_weighted_drift_threshold", "Threshold of the importance-weighted drift score.", registry=r
        )
        self.weighted_drift = Gauge(
            "driftline_weighted_drift", "1 when the importance-weighted drift score reached its threshold.", registry=r
        )
        self.equal_weights = Gauge(
            "driftline_weighted_drift_equal_weights",
            "1 when drift was weighted equally (the version stores no usable importance).",
            registry=r,
        )
        self.multivariate_auc = Gauge(
            "driftline_multivariate_drift_auc", "Domain classifier ROC AUC, window rows vs reference.", registry=r
        )
        self.multivariate_threshold = Gauge(
            "driftline_multivariate_drift_threshold", "Domain classifier AUC above which rows drifted.", registry=r
        )
        self.multivariate_drift = Gauge(
            "driftline_multivariate_drift", "1 when the domain classifier found multivariate drift.", registry=r
        )
        self.window_rows = Gauge("driftline_window_rows", "Live rows in the last checked window.", registry=r)
        self.reference_rows = Gauge(
            "driftline_reference_rows", "Reference rows compared in the last check.", registry=r
        )
        self.missing_share = Gauge(
            "driftline_feature_missing_share", "Share of missing values per feature.", ["feature"], registry=r
        )
        self.unseen_share = Gauge(
            "driftline_feature_unseen_share", "Share of categories not in the reference.", ["feature"], registry=r
        )
        self.out_of_range_share = Gauge(
            "driftline_feature_out_of_range_share",
            "Share of numbers outside the reference range.",
            ["feature"],
            registry=r,
        )
        self.live_performance = Gauge(
            "driftline_live_performance", "Production model metric on labelled window rows.", ["metric"], registry=r
        )

        def by_metric(name: str, documentation: str) -> Gauge:
            return Gauge(name, documentation, ["metric"], registry=r)

        self.estimated = by_metric(
            "driftline_estimated_performance",
            "Production model metric estimated on the window without labels (CBPE, DLE).",
        )
        self.estimated_lower = by_metric(
            "driftline_estimated_performance_lower", "Lower end of the estimate's sampling-error band."
        )
        self.estimated_upper = by_metric(
            "driftline_estimated_performance_upper", "Upper end of the estimate's sampling-error band."
        )
        self.estimated_threshold = by_metric(
            "driftline_estimated_performance_threshold", "Alert threshold of the estimate (from the reference, or set)."
        )
        self.estimated_alert = by_metric(
            "driftline_estimated_performance_alert", "1 when the estimate is worse than its threshold."
        )
        self.labelled_rows = Gauge(
            "driftline_live_labeled_rows", "Labelled rows in the last checked window.", registry=r
        )
        self.last_check = Gauge(
            "driftline_last_check_timestamp_seconds", "Unix time of the last completed check.", registry=r
        )
        self.since_last_check = Gauge(
            "driftline_seconds_since_last_check", "Seconds since the last completed check.", registry=r
        )
        self.since_last_check.set_function(self._seconds_since_last_check)
        self.check_duration = Histogram(
            "driftline_check_duration_seconds",
            "Duration of drift checks.",
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
        )
        self.checks = Counter("driftline_checks", "Drift checks by outcome.", ["outcome"], registry=r)
        self.retrains = Counter("driftline_retrain_runs", "Retrain runs by outcome.", ["outcome"], registry=r)
        self.production_version = Gauge("driftline_production_model_version", "Version in production.", registry=r)
        self.promotions = Counter("driftline_promotions", "Promotions by kind.", ["kind"], registry=r)
        self.next_retrain = Gauge(
            "driftline_next_retrain_allowed_timestamp_seconds",
            "Unix time from which drift may trigger a retrain (0: no retrain yet); reason: cooldown, backoff, capped.",
            ["reason"],
            registry=r,
        )
        self.rejected_in_a_row = Gauge(
            "driftline_retrain_rejected_in_a_row",
            "Drift-triggered retrains rejected in a row, which double the wait before the next one.",
            registry=r,
        )
        self.pruned = Counter(
            "driftline_pruned_rows",
            "Records deleted by retention, by table (model_versions: versions with their files; artifacts: objects "
            "of the shared artifact store; reports: files).",
            ["table"],
            registry=r,
        )
        for table in PRUNED_TABLES:
            self.pruned.labels(table=table)
        for outcome in ("ok", "drift", "skipped", "failed"):
            self.checks.labels(outcome=outcome)
        for outcome in ("promoted", "shadow", "rejected", "waiting", "failed"):
            self.retrains.labels(outcome=outcome)
        self._shadow_metrics(r)
        for kind in ("initial", "auto", "manual", "rollback"):
            self.promotions.labels(kind=kind)
        self._last_check_at: float | None = None
        self._started_at = time.time()

    def _seconds_since_last_check(self) -> float:
        return time.time() - (self._last_check_at if self._last_check_at is not None else self._started_at)

    def publish(self, result: CheckResult) -> None:
        """Set every gauge from a completed check and count it."""
        self.checks.labels(outcome=result.outcome).inc()
        self.check_duration.observe(result.duration_seconds)
        self._last_check_at = result.checked_at
        self.last_check.set(result.checked_at)
        self.window_rows.set(result.window.rows)
        self.labelled_rows.set(result.window.labelled_rows)
        self.production_version.set(result.model_version)
        if result.live_metric is not None:
            self.live_performance.labels(metric=result.metric).set(result.live_metric)
        if result.estimated is not None:
            self._publish_estimate(result.estimated)
        drift = result.drift
        if drift is None:
            return
        self.drift_share.set(drift.drift_share)
        self.drift_share_threshold.set(drift.drift_share_threshold)
        self.dataset_drift.set(1 if drift.dataset_drift else 0)
        self.reference_rows.set(drift.rows_reference)
        self.feature_test.clear()
        for feature in drift.features:
            self.feature_score.labels(feature=feature.feature).set(feature.score)
            self.feature_threshold.labels(feature=feature.feature).set(feature.threshold)
            self.feature_drifted.labels(feature=feature.feature).set(1 if feature.drifted else 0)
            self.feature_test.labels(feature=feature.feature, test=feature.test, direction=feature.direction).set(1)
        self._publish_drift_that_matters(drift)
        if drift.prediction is not None:
            self.prediction_score.set(drift.prediction.score)
            self.prediction_drifted.set(1 if drift.prediction.drifted else 0)
        for name, share in result.quality.missing_share.items():
            self.missing_share.labels(feature=name).set(share)
        for name, share in result.quality.unseen_share.items():
            self.unseen_share.labels(feature=name).set(share)
        for name, share in result.quality.out_of_range_share.items():
            self.out_of_range_share.labels(feature=name).set(share)

    def _shadow_metrics(self, r: CollectorRegistry) -> None:
        self.shadow_version = Gauge(
            "driftline_shadow_model_version", "Version running as the shadow (0: none).", ["purpose"], registry=r
        )
        self.shadow_rows = Gauge(
            "driftline_shadow_labelled_rows", "Labelled requests the running shadow has been compared on.", registry=r
        )
        self.shadow_needed = Gauge(
            "driftline_shadow_needed_rows", "Labelled requests the running shadow's decision needs.", registry=r
        )
        self.shadow_metric = Gauge(
            "driftline_shadow_comparison_metric",
            "The configured metric of the last shadow decision, for the champion and the shadow.",
            ["model", "metric"],
            registry=r,
        )
        self.shadow_decisions = Counter(
            "driftline_shadow_decisions", "Shadow decisions by purpose and outcome.", ["purpose", "outcome"], registry=r
        )
        self.rollbacks = Counter(
            "driftline_automatic_rollbacks", "Promotions the monitor rolled back after a watch.", registry=r
        )
        for purpose, outcome in (
            ("candidate", "promoted"),
            ("candidate", "rejected"),
            ("watch", "kept"),
            ("watch", "rolled_back"),
        ):
            self.shadow_decisions.labels(purpose=purpose, outcome=outcome)
        self._no_comparison_yet()
        self.shadow_version.labels(purpose="none").set(0)

    def _no_comparison_yet(self) -> None:
        """NaN, Prometheus's "no value", until a decision on labelled requests sets both models' metric."""
        for model in ("champion", "shadow"):
            self.shadow_metric.labels(model=model, metric="none").set(float("nan"))

    def publish_shadow(self, progress: Mapping[str, Any] | None) -> None:
        """The running shadow (`shadow_progress`), or none."""
        self.shadow_version.clear()
        if progress is None:
            self.shadow_version.labels(purpose="none").set(0)
            self.shadow_rows.set(0)
            self.shadow_needed.set(0)
            return
        self.shadow_version.labels(purpose=progress["purpose"]).set(progress["version"])
        self.shadow_rows.set(progress["labelled_rows"])
        self.shadow_needed.set(progress["needed_rows"])

    def shadow_decided(self, purpose: str, outcome: str, evidence: Mapping[str, Any]) -> None:
        """Count a decision; one made on labelled requests sets both models' metric too."""
        self.shadow_decisions.labels(purpose=purpose, outcome=outcome).inc()
        if outcome == "rolled_back":
            self.rollbacks.inc()
            self.promotions.labels(kind="rollback").inc()
        elif outcome == "promoted":
            self.promotions.labels(kind="auto").inc()
        if "champion_metric" in evidence:
            self.shadow_metric.clear()
            for model in ("champion", "shadow"):
                self.shadow_metric.labels(model=model, metric=evidence["metric"]).set(evidence[f"{model}_metric"])

    def publish_backoff(self, backoff: RetrainBackoff) -> None:
        """One series, labelled with why the wait is what it is."""
        self.next_retrain.clear()
        self.next_retrain.labels(reason=backoff.kind).set(backoff.allowed_at or 0.0)
        self.rejected_in_a_row.set(backoff.rejected_in_a_row)

    def _publish_estimate(self, estimate: EstimatedPerformance) -> None:
        """The estimate and its band, threshold and alert; a check without a value leaves the last one standing
        but clears the alert, so a version that cannot be estimated does not keep an old alert firing."""
        metric = estimate.metric
        self.estimated_alert.labels(metric=metric).set(1 if estimate.alert else 0)
        if estimate.value is None:
            return
        self.estimated.labels(metric=metric).set(estimate.value)
        for gauge, value in (
            (self.estimated_lower, estimate.lower),
            (self.estimated_upper, estimate.upper),
            (self.estimated_threshold, estimate.threshold),
        ):
            if value is not None:
                gauge.labels(metric=metric).set(value)

    def _publish_drift_that_matters(self, drift: DriftResult) -> None:
        """The importance-weighted score with each feature's importance, and the domain classifier's AUC."""
        weighted = drift.weighted
        if weighted is not None:
            self.weighted_drift_score.set(weighted.score)
            self.weighted_drift_threshold.set(weighted.threshold)
            self.weighted_drift.set(1 if weighted.drifted else 0)
            self.equal_weights.set(0 if weighted.equal_weights_because is None else 1)
            self.feature_importance.clear()  # a new version may know other features, or none
            for name, value in weighted.importance.items():
                if value is not None:
                    self.feature_importance.labels(feature=name).set(value)
        multivariate = drift.multivariate
        if multivariate is not None:
            self.multivariate_auc.set(multivariate.auc)
            self.multivariate_threshold.set(multivariate.threshold)
            self.multivariate_drift.set(1 if multivariate.drifted else 0)

    def failed(self, duration_seconds: float) -> None:
        self.checks.labels(outcome="failed").inc()
        self.check_duration.observe(duration_seconds)
