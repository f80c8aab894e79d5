"""Retrain on the production version's reference plus recent labelled live rows; promote only a better model.

The candidate and the champion (the production version) are scored on the same holdout: the most recent labelled
live rows, which neither trained on. The candidate is promoted only when it beats the champion by
`retrain.min_gain` on the configured metric; otherwise it is kept as a rejected version with the reason. Every run
is a training-run record; promotion changes the pointer, the drift reference and the history in one transaction.

The fit and the registration are the path a first training takes too (`candidate.py`); this module holds what a
retrain does differently: its rows, the comparison with the champion, and failures reported as an outcome.

A retrain started by a label-free signal (`retrain.trigger: estimated_performance`) can find too few labelled rows
to build a holdout. Training on the old reference alone would refit the champion's data, and promoting without a
holdout would skip the guardrail, so such a run is recorded as `waiting` instead: neither a rejection (no back-off)
nor a failure (no alert); the monitor keeps its trigger armed and retrains once the labels are in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import numpy as np
import pandas as pd

from driftline.core import (
    DataError,
    FeatureSchema,
    ModelVersion,
    Registry,
    Settings,
    TooFewLabels,
    VersionDetails,
    jsonable,
    log_event,
    start_watch,
)
from retrain.candidate import Progress, build_candidate, code_version, quiet
from retrain.evaluate import bootstrap_gain, holdout_metrics, is_better, model_outputs
from retrain.runs import TrainingRun, failure_message, recorded_run
from retrain.verdict import format_verdict, format_waiting

log = logging.getLogger(__name__)

WAITING: Final = "waiting"  # the outcome of a label-free-triggered retrain that found too few labelled rows


@dataclass
class RetrainDecision:
    """What a retrain run did and why, with the evidence stored in the history."""

    outcome: str  # promoted | shadow | rejected | waiting (for labels) | failed
    reason: str
    champion_version: int | None
    candidate_version: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "champion_version": self.champion_version,
            "candidate_version": self.candidate_version,
            "evidence": self.evidence,
        }


def live_labelled(registry: Registry, schema: FeatureSchema, limit: int) -> pd.DataFrame:
    """Recent labelled predictions as training rows: features typed like training data, labels as classes."""
    records = registry.store.recent_labelled(limit)
    if not records:
        return pd.DataFrame(columns=[*schema.features, schema.target, "__created_at__"])
    features = schema.coerce(pd.DataFrame.from_records([r["features"] for r in records], columns=list(schema.features)))
    if schema.task == "classification":
        by_text = {str(c): c for c in schema.classes}
        features[schema.target] = [by_text.get(str(r["label"])) for r in records]
    else:
        features[schema.target] = pd.to_numeric([r["label"] for r in records], errors="coerce")
    features["__created_at__"] = [r["created_at"] for r in records]
    return features.dropna(subset=[schema.target]).reset_index(drop=True)


def retrain(
    settings: Settings,
    registry: Registry,
    *,
    trigger: str,
    drift: dict[str, Any] | None = None,
    progress: Progress = quiet,
    wait_for_labels: bool = False,
) -> RetrainDecision:
    """One retrain-and-maybe-promote run; never raises for bad data or a failed fit, it records them.

    `wait_for_labels` (a label-free trigger started it) turns too few labelled rows into the `waiting` outcome
    instead of a failure."""
    store = registry.store
    champion_version = store.production_version()
    try:
        with recorded_run(store, trigger) as run:
            try:
                decision = _retrain(settings, registry, run=run, drift=drift, progress=progress)
            except TooFewLabels as short:
                if not wait_for_labels:
                    raise
                rows = {"labelled": short.rows, "needed": short.needed}
                evidence = {"trigger": trigger, "drift": drift, "rows": rows}
                decision = RetrainDecision(
                    WAITING, format_waiting(short.rows, short.needed), champion_version, None, evidence
                )
    except Exception as exc:  # a failed retrain is an outcome, recorded with its reason; the caller goes on
        message = failure_message(exc)
        log_event(log, logging.ERROR, "retrain failed", error=message, trigger=trigger)
        return RetrainDecision("failed", message, champion_version)
    decision.evidence["duration_seconds"] = run.seconds()
    if decision.outcome == WAITING:
        run.wait(message=decision.reason, details=decision.to_dict())
        return decision
    run.succeed(
        version=decision.candidate_version,
        message=decision.reason,  # the verdict names the outcome
        details=decision.to_dict(),
    )
    return decision


class RetrainRows(NamedTuple):
    """The rows a retrain fits and compares on."""

    live: pd.DataFrame  # the recent labelled live rows, oldest first
    live_train: pd.DataFrame  # the older part of them, trained on
    holdout: pd.DataFrame  # the newest part, scored by champion and candidate alike
    reference: pd.DataFrame  # the champion's reference rows trained on beside them
    training: pd.DataFrame  # reference rows, then live ones, in that order


def _retrain_rows(settings: Settings, registry: Registry, champion: ModelVersion) -> RetrainRows:
    schema = champion.schema
    features, target = list(schema.features), schema.target
    live = live_labelled(registry, schema, settings.retrain.live_rows)
    needed = settings.retrain.min_labeled_rows
    if len(live) < needed:
        raise TooFewLabels(len(live), needed)
    cut = len(live) - max(1, round(len(live) * settings.retrain.holdout_fraction))
    live_train, holdout = live.iloc[:cut], live.iloc[cut:]
    if schema.task == "classification" and holdout[target].nunique() < 2:
        raise DataError("the holdout of recent labelled rows holds a single class; it cannot compare models")
    reference = registry.reference(champion.version)
    share = settings.retrain.reference_fraction
    wanted = min(len(reference), round(len(live_train) * share / (1 - share)))
    reference = (
        reference.sample(n=wanted, random_state=settings.model.random_state) if wanted < len(reference) else reference
    )
    training = pd.concat([reference[[*features, target]], live_train[[*features, target]]], ignore_index=True)
    return RetrainRows(live, live_train, holdout, reference, training)


def _retrain(
    settings: Settings,
    registry: Registry,
    *,
    run: TrainingRun,
    drift: dict[str, Any] | None,
    progress: Progress,
) -> RetrainDecision:
    champion = registry.production()
    champion_model = registry.load(champion.version)
    schema = champion.schema
    features, target, metric = list(schema.features), schema.target, settings.model.metric
    live, live_train, holdout, reference, training = _retrain_rows(settings, registry, champion)
    progress(
        f"fitting a candidate on {len(training):,} rows ({len(reference):,} reference + {len(live_train):,} live); "
        f"holdout: the {len(holdout):,} most recent labelled rows"
    )
    # reference rows first, then live rows by arrival: the folds of a search validate on the newest rows
    candidate = build_candidate(settings.model, schema, training, holdout, time_ordered=True, progress=progress)
    pipeline, candidate_metrics = candidate.pipeline, candidate.metrics
    champion_metrics = holdout_metrics(champion_model.pipeline, holdout[features], holdout[target], schema.task, metric)
    gain = settings.retrain.min_gain
    better = is_better(candidate_metrics[metric], champion_metrics[metric], metric, gain)
    significance = None
    if better and settings.retrain.bootstrap_rounds:
        # a gain within the holdout's noise is no reason to swap models
        classes = np.asarray(pipeline.classes_) if schema.task == "classification" else None
        mean_gain, low_gain = bootstrap_gain(
            metric,
            holdout[target].to_numpy().astype(classes.dtype if classes is not None else "float64"),
            model_outputs(pipeline, holdout[features], schema.task),
            model_outputs(champion_model.pipeline, holdout[features], schema.task),
            classes,
            rounds=settings.retrain.bootstrap_rounds,
            seed=settings.model.random_state,
            confidence=settings.retrain.confidence,
        )
        significance = {
            "mean_gain": mean_gain,
            "gain_lower_bound": low_gain,
            "confidence": settings.retrain.confidence,
            "rounds": settings.retrain.bootstrap_rounds,
        }
        better = bool(low_gain > gain)  # confidently better by at least min_gain
    progress(f"holdout {metric}: candidate {candidate_metrics[metric]:.4f}, champion {champion_metrics[metric]:.4f}")
    evidence: dict[str, Any] = {
        "trigger": run.trigger,
        "drift": drift,
        "metric": metric,
        "min_gain": gain,
        "bootstrap": significance,
        "candidate_metrics": jsonable(candidate_metrics),
        "champion_metrics": jsonable(champion_metrics),
        "champion_version": champion.version,
        "rows": {"reference": len(reference), "live_train": len(live_train), "holdout": len(holdout)},
        "data_window": {
            "start": float(live["__created_at__"].min()),
            "end": float(live["__created_at__"].max()),
            "holdout_start": float(holdout["__created_at__"].min()),
        },
        "params": candidate.params,
        "tuning": candidate.tuning_details,
    }
    verdict = format_verdict(better, metric, candidate_metrics[metric], champion_metrics[metric], gain, significance)
    details: VersionDetails = {
        "estimator": settings.model.estimator,
        "params": evidence["params"],
        "metric": metric,
        "metrics": evidence["candidate_metrics"],
        "baseline_metrics": evidence["champion_metrics"],
        "data": {
            "source": "reference+live",
            "rows_train": len(training),
            "rows_holdout": len(holdout),
            "rows_reference": len(candidate.reference),
        },
        "code_version": code_version(),
        "trigger": run.trigger,
        "run_id": run.id,
        "feature_importance": candidate.feature_importance,
        "evidence": evidence,
    }
    version = candidate.register(
        registry,
        name=champion.name,
        run_id=run.id,
        details=details,
        rejected_because=None if better else verdict,
    )
    if not better:
        return RetrainDecision("rejected", verdict, champion.version, version.version, evidence)
    shadow_rows = settings.retrain.shadow_rows
    if shadow_rows:
        # the holdout is the past: the candidate serves only once it also wins on live requests (`shadowing.py`)
        verdict = format_verdict(
            True, metric, candidate_metrics[metric], champion_metrics[metric], gain, significance, outcome="shadow"
        )
        reason = f"{verdict}; predicting beside version {champion.version} until {shadow_rows} requests have labels"
        evidence["shadow_id"] = registry.store.start_shadow(
            version.version,
            champion_version=champion.version,
            purpose="candidate",
            needed_rows=shadow_rows,
            reason=reason,
            evidence={"holdout": {k: evidence[k] for k in ("metric", "bootstrap", "rows")}},
        )
        return RetrainDecision("shadow", reason, champion.version, version.version, evidence)
    registry.promote(version.version, kind="auto", reason=verdict, evidence=evidence)
    start_watch(
        store=registry.store,
        version=version.version,
        previous=champion.version,
        rows=settings.retrain.watch_rows,
        reason=verdict,
    )
    return RetrainDecision("promoted", verdict, champion.version, version.version, evidence)
