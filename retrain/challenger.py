"""Retrain on the production version's reference plus recent labelled live rows; promote only a better model.

The candidate and the champion (the production version) are scored on the same holdout: the most recent labelled
live rows, which neither trained on. The candidate is promoted only when it beats the champion by
`retrain.min_gain` on the configured metric; otherwise it is kept as a rejected version with the reason. Every run
is a training-run record; promotion changes the pointer, the drift reference and the history in one transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftline.core import (
    ESTIMATOR_STEP,
    DataError,
    DriftlineError,
    FeatureSchema,
    Registry,
    Settings,
    jsonable,
    log_event,
)
from retrain.artifacts import write_artifacts
from retrain.evaluate import bootstrap_gain, holdout_metrics, is_better, model_outputs
from retrain.pipeline import build_pipeline
from retrain.training import Progress, code_version, quiet, reference_sample
from retrain.tune import searched
from retrain.verdict import format_verdict

log = logging.getLogger(__name__)


@dataclass
class RetrainDecision:
    """What a retrain run did and why, with the evidence stored in the history."""

    outcome: str  # promoted | rejected | failed
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
) -> RetrainDecision:
    """One retrain-and-maybe-promote run; never raises for bad data or a failed fit, it records them."""
    store = registry.store
    run_id = store.start_run(trigger)
    started = time.monotonic()
    champion_version = store.production_version()
    try:
        decision = _retrain(settings, registry, run_id=run_id, trigger=trigger, drift=drift, progress=progress)
    except Exception as exc:  # a failed retrain is an outcome, recorded with its reason; the caller goes on
        message = str(exc) if isinstance(exc, DriftlineError) else f"{type(exc).__name__}: {exc}"
        store.finish_run(run_id, status="failed", message=message)
        log_event(log, logging.ERROR, "retrain failed", error=message, trigger=trigger)
        return RetrainDecision("failed", message, champion_version)
    decision.evidence["duration_seconds"] = round(time.monotonic() - started, 3)
    store.finish_run(
        run_id,
        status="succeeded",
        version=decision.candidate_version,
        message=decision.reason,  # the verdict names the outcome
        details=decision.to_dict(),
    )
    return decision


def _retrain(
    settings: Settings,
    registry: Registry,
    *,
    run_id: int,
    trigger: str,
    drift: dict[str, Any] | None,
    progress: Progress,
) -> RetrainDecision:
    champion = registry.production()
    champion_model = registry.load(champion.version)
    schema = champion.schema
    features, target, metric = list(schema.features), schema.target, settings.model.metric
    live = live_labelled(registry, schema, settings.retrain.live_rows)
    needed = settings.retrain.min_labeled_rows
    if len(live) < needed:
        raise DataError(f"only {len(live)} labelled live rows; a retrain needs at least {needed}")
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
    progress(
        f"fitting a candidate on {len(training):,} rows ({len(reference):,} reference + {len(live_train):,} live); "
        f"holdout: the {len(holdout):,} most recent labelled rows"
    )
    # reference rows first, then live rows by arrival: the folds of a search validate on the newest rows
    pipeline, tuning = searched(
        build_pipeline(
            schema, settings.model.estimator, settings.model.params, settings.model.allowed_estimator_modules
        ),
        training[features],
        training[target],
        model=settings.model,
        task=schema.task,
        time_ordered=True,
        progress=progress,
    )
    pipeline.fit(training[features], training[target])
    candidate_metrics = holdout_metrics(pipeline, holdout[features], holdout[target], schema.task, metric)
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
        "trigger": trigger,
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
        "params": jsonable(pipeline.named_steps[ESTIMATOR_STEP].get_params()),
        "tuning": jsonable(tuning.to_dict()) if tuning else None,
    }
    new_schema = schema.with_classes(list(pipeline.classes_)) if schema.task == "classification" else schema
    new_reference = reference_sample(
        training, pipeline, new_schema, settings.model.reference_rows, settings.model.random_state
    )
    folder, tag = write_artifacts(
        registry.model_dir,
        champion.name,
        pipeline,
        new_reference,
        metadata={"metric": metric, "value": candidate_metrics[metric], "run_id": run_id},
    )
    verdict = format_verdict(better, metric, candidate_metrics[metric], champion_metrics[metric], gain, significance)
    details = {
        "estimator": settings.model.estimator,
        "params": evidence["params"],
        "metric": metric,
        "metrics": evidence["candidate_metrics"],
        "baseline_metrics": evidence["champion_metrics"],
        "data": {
            "source": "reference+live",
            "rows_train": len(training),
            "rows_holdout": len(holdout),
            "rows_reference": len(new_reference),
        },
        "code_version": code_version(),
        "trigger": trigger,
        "run_id": run_id,
        "evidence": evidence,
    }
    version = registry.register(
        folder,
        name=champion.name,
        tag=tag,
        schema=new_schema,
        details=details,
        status="registered" if better else "rejected",
        status_reason=None if better else verdict,
    )
    if not better:
        return RetrainDecision("rejected", verdict, champion.version, version.version, evidence)
    registry.promote(version.version, kind="auto", reason=verdict, evidence=evidence)
    return RetrainDecision("promoted", verdict, champion.version, version.version, evidence)
