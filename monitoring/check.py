"""One drift check: the live window of the production version against that version's reference.

`DriftChecker.run` returns a `CheckResult` whatever happens short of an error: a window below the minimum row
count is a skipped check with its reason. The monitor loop and `driftline check` both call it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from driftline.core import REFERENCE_FILE, Registry, Settings
from monitoring.drift import DriftResult, compare, sampled
from monitoring.estimation import EstimatedPerformance, PerformanceEstimation
from monitoring.importance import FeatureWeights, weighted_drift
from monitoring.multivariate import domain_drift
from monitoring.performance import live_metric
from monitoring.quality import Quality, ReferenceProfile, assess
from monitoring.window import LABEL, LiveWindow, SampleCache, load_window

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """What a check found, in the shape `driftline check` prints."""

    outcome: str  # ok | drift | skipped
    model_version: int
    reference_sha256: str
    checked_at: float
    duration_seconds: float
    window: LiveWindow
    reason: str | None = None
    drift: DriftResult | None = None
    quality: Quality = field(default_factory=Quality)
    live_metric: float | None = None
    metric: str = ""
    estimated: EstimatedPerformance | None = None  # None until the window is large enough to be checked

    @property
    def drifted(self) -> bool:
        return self.outcome == "drift"

    def to_dict(self) -> dict[str, Any]:
        drift = self.drift
        weighted = drift.weighted if drift else None
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "model_version": self.model_version,
            "reference_sha256": self.reference_sha256,
            "checked_at": self.checked_at,
            "duration_seconds": round(self.duration_seconds, 3),
            "rows": self.window.rows,
            "labelled_rows": self.window.labelled_rows,
            "window": self.window.bounds(),
            "rows_compared": drift.rows_current if drift else 0,
            "reference_rows_compared": drift.rows_reference if drift else 0,
            "dataset_drift": drift.dataset_drift if drift else False,
            "drift_share": drift.drift_share if drift else None,
            "drift_share_threshold": drift.drift_share_threshold if drift else None,
            "drifted_features": drift.drifted_features if drift else [],
            "features": drift.feature_rows() if drift else [],
            "weighted_drift": weighted.to_dict() if weighted else None,
            "multivariate_drift": drift.multivariate.to_dict() if drift and drift.multivariate else None,
            "insufficient_data": drift.insufficient if drift else {},
            "prediction_drift": drift.prediction.to_dict() if drift and drift.prediction else None,
            "quality": self.quality.to_dict(),
            "live_performance": {
                "metric": self.metric,
                "value": self.live_metric,
                "labelled_rows": self.window.labelled_rows,
            },
            "estimated_performance": (
                self.estimated or EstimatedPerformance(self.metric, reason=self.reason or "not estimated")
            ).to_dict(),
        }


@dataclass(frozen=True)
class Reference:
    """A version's reference as checks use it: the sample its windows are compared with (drawn from the stored
    reference as `compare` would draw it), the sha256 of the stored file, the profile data quality is measured
    against (from the whole stored reference), and the version's feature importance that drift is weighted by."""

    sample: pd.DataFrame
    sha256: str
    profile: ReferenceProfile
    weights: FeatureWeights


class DriftChecker:
    """Runs checks for the current production version, keeping each version's reference loaded once."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self._references: dict[int, Reference] = {}
        monitoring = settings.monitoring
        # an estimate is computed on the window's sample, so its threshold is for chunks of that many rows
        estimated_rows = min(monitoring.window_rows, monitoring.sample_rows)
        self.estimation = PerformanceEstimation(registry, settings.model.metric, estimated_rows, monitoring.estimation)
        self._sample = SampleCache()  # the last sample's rows, not read or built again by the next check
        self._reading = threading.Lock()  # the cache is one read's worth: one read at a time

    def reference(self, version: int) -> Reference:
        """A version's verified reference, prepared for checks."""
        if version not in self._references:
            model = self.registry.get(version)
            stored = self.registry.reference(version)
            sample = sampled(stored, self.settings.monitoring.sample_rows, self.settings.model.random_state)
            prepared = Reference(
                sample,
                model.hashes[REFERENCE_FILE],
                ReferenceProfile.of(stored, model.schema),
                FeatureWeights.of(version, model.details),
            )
            self._references = {version: prepared}
        return self._references[version]

    def run(self, now: float | None = None) -> CheckResult:
        started = time.monotonic()
        monitoring = self.settings.monitoring
        production = self.registry.production()
        schema = production.schema
        reference = self.reference(production.version)
        with self._reading:
            window = load_window(
                self.registry.store,
                schema,
                version=production.version,
                window_rows=monitoring.window_rows,
                window_seconds=monitoring.window_seconds,
                sample_rows=monitoring.sample_rows,
                now=now,
                cache=self._sample,
            )
        result = CheckResult(
            outcome="skipped",
            model_version=production.version,
            reference_sha256=reference.sha256,
            checked_at=time.time(),
            duration_seconds=0.0,
            window=window,
            metric=self.settings.model.metric,
        )
        if window.rows < monitoring.min_rows:
            result.reason = (
                f"{window.rows} rows served by version {production.version} in the window; "
                f"at least {monitoring.min_rows} are needed"
            )
        else:
            drift = compare(
                reference.sample,
                window.sample,
                schema,
                drift_share=monitoring.drift_share,
                stat_test=monitoring.stat_test,
                sample_rows=monitoring.sample_rows,
                seed=self.settings.model.random_state,
            )
            drift.multivariate = domain_drift(
                drift.compared,
                threshold=monitoring.multivariate_auc,
                rows=monitoring.multivariate_rows,
                seed=self.settings.model.random_state,
            )
            drift.weighted = weighted_drift(drift.features, reference.weights, monitoring.weighted_drift)
            result.drift = drift
            result.quality = assess(window.sample, reference.profile, schema)
            result.estimated = self.estimation.estimate(production.version, window.sample)
            # the report shows the estimate beside the drift it is rendered from
            result.drift.compared = replace(result.drift.compared, estimated_performance=result.estimated.to_dict())
            result.outcome = "drift" if result.drift.dataset_drift else "ok"
        labelled = window.labelled
        if len(labelled):
            result.live_metric = live_metric(
                self.settings.model.metric, list(labelled["__output__"]), list(labelled[LABEL]), schema
            )
        result.duration_seconds = time.monotonic() - started
        return result
