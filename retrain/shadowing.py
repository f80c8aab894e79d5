"""Decide a shadow on labelled live requests: promote or reject a candidate, keep or roll back a new champion.

A shadow predicted beside the champion on live traffic (`service/shadow.py`); once `needed_rows` of those requests
have labels, the monitor compares the two on exactly those requests, from the outputs both logged, with the paired
bootstrap a retrain's holdout uses. A candidate is promoted when its gain's lower bound is above
`retrain.min_gain` (the retrain's `confidence`). A watch (the replaced champion as the shadow after an automatic
promotion) rolls the promotion back when the replaced champion is confidently better (`watch_confidence`): the
new champion is then worse on the traffic it serves. A watch need not wait for all of its rows when the check's
label-free estimate says the new champion has dropped (its estimate worse than the threshold, the lower edge of
the metric's normal range on its reference): the comparison then runs on the labelled watched requests so far, from
`watch_early_rows` of them on, and rolls back on a confident loss; without one the watch goes on. A shadow short
of labels after `shadow_max_seconds` ends without a swap. Every decision ends the shadow with its evidence;
promotions and rollbacks go to the history too.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.core import (
    FeatureSchema,
    Registry,
    Settings,
    ShadowedRow,
    ShadowRow,
    log_event,
    metric_from_outputs,
    start_watch,
)
from monitoring import CheckResult
from retrain.evaluate import bootstrap_gain, is_better
from retrain.verdict import format_verdict

log = logging.getLogger(__name__)


@dataclass
class ShadowDecision:
    """What a shadow's end was and why: promoted | rejected (candidate), kept | rolled_back (watch)."""

    outcome: str
    purpose: str
    version: int
    champion_version: int
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PairedComparison:
    """The shadow against the champion on the same labelled requests: both metrics and the shadow's gain."""

    rows: int
    metric: str
    shadow: float
    champion: float
    better: bool  # the shadow beats the champion by the margin, at the confidence asked
    bootstrap: dict[str, Any] | None

    def evidence(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "metric": self.metric,
            "shadow_metric": self.shadow,
            "champion_metric": self.champion,
            "bootstrap": self.bootstrap,
        }


def compare_paired(
    rows: list[ShadowedRow], schema: FeatureSchema, settings: Settings, *, min_gain: float, confidence: float
) -> PairedComparison:
    """The shadow's outputs against the champion's on labelled requests, with the retrain's paired bootstrap."""
    metric = settings.model.metric
    classes: np.ndarray | None = None
    if schema.task == "classification":
        classes = np.asarray(schema.classes)
        by_text = {str(c): c for c in schema.classes}
        truth = np.asarray([by_text[str(r["label"])] for r in rows], dtype=classes.dtype)
        champion = np.asarray([[r["champion_output"]["probabilities"][str(c)] for c in classes] for r in rows])
        shadow = np.asarray([[r["shadow_output"]["probabilities"][str(c)] for c in classes] for r in rows])
    else:
        truth = np.asarray([float(r["label"]) for r in rows])
        champion = np.asarray([float(r["champion_output"]["prediction"]) for r in rows])
        shadow = np.asarray([float(r["shadow_output"]["prediction"]) for r in rows])
    shadow_metric = metric_from_outputs(metric, truth, shadow, classes)
    champion_metric = metric_from_outputs(metric, truth, champion, classes)
    better = is_better(shadow_metric, champion_metric, metric, min_gain)
    significance = None
    rounds = settings.retrain.bootstrap_rounds
    if better and rounds:
        mean_gain, low_gain = bootstrap_gain(
            metric,
            truth,
            shadow,
            champion,
            classes,
            rounds=rounds,
            seed=settings.model.random_state,
            confidence=confidence,
        )
        significance = {
            "mean_gain": mean_gain,
            "gain_lower_bound": low_gain,
            "confidence": confidence,
            "rounds": rounds,
        }
        better = bool(low_gain > min_gain)
    return PairedComparison(len(rows), metric, shadow_metric, champion_metric, better, significance)


def decide_shadow(
    settings: Settings, registry: Registry, *, now: float | None = None, check: CheckResult | None = None
) -> ShadowDecision | None:
    """Decide the running shadow if its labelled requests are in, or its time is up; None while it waits. `check`,
    the check that just ran, may bring a watch's comparison forward (see the module docstring)."""
    store = registry.store
    shadow = store.active_shadow()
    if shadow is None:
        return None
    production = store.production_version()
    give_up = "rejected" if shadow["purpose"] == "candidate" else "kept"
    if production != shadow["champion_version"]:
        return _end(registry, shadow, give_up, f"the production version changed to {production} during the shadow")
    rows = store.shadowed_labelled(shadow, shadow["needed_rows"])
    schema = registry.get(shadow["champion_version"]).schema
    if len(rows) < shadow["needed_rows"]:
        dropped = _estimated_drop(settings, shadow, check, len(rows))
        if dropped is not None:
            comparison = compare_paired(
                rows, schema, settings, min_gain=0.0, confidence=settings.retrain.watch_confidence
            )
            if comparison.better:  # the replaced champion confidently wins already
                return _decide_watch(registry, shadow, comparison, early=dropped)
        waited = (time.time() if now is None else now) - shadow["started_at"]
        limit = settings.retrain.shadow_max_seconds
        if waited <= limit:
            return None
        reason = (
            f"only {len(rows)} of the {shadow['needed_rows']} shadowed requests it needs got labels within "
            f"shadow_max_seconds ({limit} s)"
        )
        return _end(registry, shadow, give_up, reason, {"rows": len(rows), "timed_out": True})
    if shadow["purpose"] == "candidate":
        return _decide_candidate(
            settings,
            registry,
            shadow,
            compare_paired(
                rows, schema, settings, min_gain=settings.retrain.min_gain, confidence=settings.retrain.confidence
            ),
        )
    return _decide_watch(
        registry,
        shadow,
        compare_paired(rows, schema, settings, min_gain=0.0, confidence=settings.retrain.watch_confidence),
    )


def _estimated_drop(
    settings: Settings, shadow: ShadowRow, check: CheckResult | None, labelled: int
) -> dict[str, Any] | None:
    """The check's estimate when it calls for a watch's early comparison: it is about the watched champion, worse
    than its threshold, and `watch_early_rows` watched requests have labels; None otherwise."""
    early_rows = settings.retrain.watch_early_rows
    if shadow["purpose"] != "watch" or not early_rows or labelled < early_rows or check is None:
        return None
    estimate = check.estimated
    if check.model_version != shadow["champion_version"] or estimate is None or not estimate.alert:
        return None
    return estimate.to_dict()


def _decide_candidate(
    settings: Settings, registry: Registry, shadow: ShadowRow, comparison: PairedComparison
) -> ShadowDecision:
    verdict = format_verdict(
        comparison.better,
        comparison.metric,
        comparison.shadow,
        comparison.champion,
        settings.retrain.min_gain,
        comparison.bootstrap,
    )
    reason = f"{verdict} (on {comparison.rows} shadowed live requests)"
    evidence = {**comparison.evidence(), "shadow_id": shadow["id"], "min_gain": settings.retrain.min_gain}
    if not comparison.better:
        return _end(registry, shadow, "rejected", reason, evidence)
    registry.promote(shadow["version"], kind="auto", reason=reason, evidence={**evidence, "who": "monitor"})
    decision = _end(registry, shadow, "promoted", reason, evidence)
    start_watch(
        registry.store,
        version=shadow["version"],
        previous=shadow["champion_version"],
        rows=settings.retrain.watch_rows,
        reason=reason,
    )
    return decision


def _decide_watch(
    registry: Registry, shadow: ShadowRow, comparison: PairedComparison, *, early: dict[str, Any] | None = None
) -> ShadowDecision:
    """Roll back or keep; `early` is the estimate that brought the comparison before `needed_rows`."""
    # the shadow is the replaced champion: its confident gain is the new champion's loss
    worse = comparison.better
    verdict = format_verdict(
        worse,
        comparison.metric,
        comparison.shadow,
        comparison.champion,
        0.0,
        comparison.bootstrap,
        outcome="rolled back" if worse else "kept",
    )
    reason = (
        f"{verdict} (version {shadow['version']}, the replaced champion, against version "
        f"{shadow['champion_version']} on {comparison.rows} watched live requests"
        + (
            f" of {shadow['needed_rows']}, early: the estimated {early['metric']} {early['value']:.4f} fell below "
            f"its threshold {early['threshold']:.4f})"
            if early
            else ")"
        )
    )
    evidence = {**comparison.evidence(), "shadow_id": shadow["id"], "who": "monitor", "estimate": early}
    if not worse:
        return _end(registry, shadow, "kept", reason, evidence)
    registry.rollback(reason, evidence=evidence)
    return _end(registry, shadow, "rolled_back", reason, evidence)


def _end(
    registry: Registry, shadow: ShadowRow, outcome: str, reason: str, evidence: dict[str, Any] | None = None
) -> ShadowDecision:
    registry.store.finish_shadow(shadow["id"], status=outcome, reason=reason, evidence=evidence)
    log_event(log, logging.WARNING, "shadow decided", outcome=outcome, version=shadow["version"], reason=reason)
    return ShadowDecision(
        outcome, shadow["purpose"], shadow["version"], shadow["champion_version"], reason, dict(evidence or {})
    )
