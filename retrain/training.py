"""Train a version on the configured data: checks, fit, holdout metrics beside a baseline, register, maybe promote.

The fit and the registration are the candidate path every retrain takes too (`candidate.py`); what is this
module's own is the data checks, the dummy baseline a first model must beat, and promoting it when nothing is in
production. Every run is a `training_runs` record (`runs.py`), whether it ends in a registered version or a
failure with its reason, which `train` raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor

from driftline.core import (
    FeatureSchema,
    ModelVersion,
    Registry,
    Settings,
    TimeRange,
    VersionDetails,
    infer_schema,
    jsonable,
    load_dataset,
)
from retrain.candidate import Candidate, Progress, build_candidate, code_version, quiet
from retrain.data_checks import DataReport, check_training_data, split_holdout
from retrain.evaluate import holdout_metrics, is_better
from retrain.runs import TrainingRun, recorded_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOutcome:
    """The registered version and what became of it."""

    version: ModelVersion
    promoted: bool
    decision: str


def train(
    settings: Settings, registry: Registry, *, trigger: str = "manual", progress: Progress = quiet
) -> TrainingOutcome:
    """Fit on the configured data and register the version; promote it when nothing is in production."""
    with recorded_run(registry.store, trigger) as run:
        outcome = _train(settings, registry, run=run, progress=progress)
    run.succeed(
        version=outcome.version.version,
        message=outcome.decision,
        details={"promoted": outcome.promoted, "duration_seconds": run.seconds()},
    )
    return outcome


def _train(settings: Settings, registry: Registry, *, run: TrainingRun, progress: Progress) -> TrainingOutcome:
    data_settings = settings.data
    source, schema, data, report = _checked_data(settings, progress)
    train_rows, holdout_rows = split_holdout(
        data,
        settings.model.holdout_fraction,
        time_column=data_settings.time_column,
        stratify=schema.target if schema.task == "classification" else None,
        seed=settings.model.random_state,
    )
    candidate = build_candidate(
        settings.model,
        schema,
        train_rows,
        holdout_rows,
        time_ordered=data_settings.time_column is not None,
        progress=progress,
        fitting=(
            f"fitting {settings.model.estimator} on {len(train_rows):,} rows "
            f"(holdout {len(holdout_rows):,} rows{', most recent' if data_settings.time_column else ''})"
        ),
    )
    metrics = candidate.metrics
    baseline_metrics = _baseline_metrics(candidate, train_rows, holdout_rows)
    metric = settings.model.metric
    progress(f"holdout {metric}: model {metrics[metric]:.4f}, baseline {baseline_metrics[metric]:.4f}")
    beats_baseline = is_better(metrics[metric], baseline_metrics[metric], metric)
    details: VersionDetails = {
        "estimator": settings.model.estimator,
        "params": candidate.params,
        "configured_params": jsonable(settings.model.params),
        "tuning": candidate.tuning_details,
        "metric": metric,
        "metrics": jsonable(metrics),
        "baseline_metrics": jsonable(baseline_metrics),
        "data": {
            "source": source,
            "rows_train": len(train_rows),
            "rows_holdout": len(holdout_rows),
            "rows_reference": len(candidate.reference),
            **report.to_dict(),
        },
        "time_range": _time_range(train_rows, data_settings.time_column),
        "code_version": code_version(),
        "duration_seconds": run.seconds(),
        "trigger": run.trigger,
        "run_id": run.id,
        "feature_importance": candidate.feature_importance,
    }
    progress("writing artifacts to the BentoML model store")
    status_reason = (
        None
        if beats_baseline
        else f"{metric} {metrics[metric]:.4f} does not beat the baseline's {baseline_metrics[metric]:.4f}"
    )
    version = candidate.register(
        registry, name=settings.model.name, run_id=run.id, details=details, rejected_because=status_reason
    )
    progress(f"registered version {version.version} ({version.artifact_tag})")
    if not beats_baseline:
        decision = f"version {version.version} registered, not promoted: {status_reason}"
    elif registry.store.production_version() is None:
        registry.promote(
            version.version,
            kind="initial",
            reason="first version trained",
            evidence={"metrics": details["metrics"], "baseline_metrics": details["baseline_metrics"]},
        )
        return TrainingOutcome(registry.get(version.version), True, f"version {version.version} promoted to production")
    else:
        decision = (
            f"version {version.version} registered; version {registry.store.production_version()} "
            "stays in production (use `driftline promote` or let the retrain loop compare them)"
        )
    return TrainingOutcome(registry.get(version.version), False, decision)


def _baseline_metrics(candidate: Candidate, train_rows: pd.DataFrame, holdout_rows: pd.DataFrame) -> dict[str, Any]:
    """The holdout metrics of the candidate's preprocessing before a dummy: the prior class or the mean."""
    schema = candidate.schema
    features = list(schema.features)
    # a clone takes the parameters, searched ones included, and none of the fitted state
    baseline = clone(candidate.pipeline).set_params(
        estimator=DummyClassifier(strategy="prior") if schema.task == "classification" else DummyRegressor()
    )
    baseline.fit(train_rows[features], train_rows[schema.target])
    return holdout_metrics(baseline, holdout_rows[features], holdout_rows[schema.target], schema.task, candidate.metric)


def _checked_data(settings: Settings, progress: Progress) -> tuple[str, FeatureSchema, pd.DataFrame, DataReport]:
    """The configured training rows, their schema (inferred where not listed), and what the checks found."""
    data_settings = settings.data
    progress("loading data")
    dataset = load_dataset(data_settings)
    frame = dataset.train
    if data_settings.max_rows is not None and len(frame) > data_settings.max_rows:
        frame = frame.iloc[-data_settings.max_rows :]
    listed = data_settings.features
    schema = infer_schema(
        frame,
        data_settings.target,
        data_settings.task,
        time_column=data_settings.time_column,
        id_column=data_settings.id_column,
        numeric=listed.numeric if listed else (),
        categorical=listed.categorical if listed else (),
    )
    progress(
        f"checking {len(frame):,} rows from {dataset.source}: "
        f"{len(schema.numeric)} numeric and {len(schema.categorical)} categorical features"
    )
    data, report = check_training_data(
        frame,
        schema,
        data_settings.time_column,
        id_column=data_settings.id_column,
        drop_duplicate_rows=data_settings.drop_duplicate_rows,
    )
    _report_checks(report, progress)
    return dataset.source, schema, data, report


def _report_checks(report: DataReport, progress: Progress) -> None:
    if report.repeated_ids_dropped:
        progress(f"dropped {report.repeated_ids_dropped:,} rows whose id repeats an earlier row's")
    identical = f"{report.identical_rows:,} rows ({report.identical_share:.1%}) identical to an earlier row"
    if report.duplicates_dropped:
        progress(f"dropped {identical}")
    else:
        progress(f"{identical}, kept (data.drop_duplicate_rows drops them)")
    if report.missing_target_dropped:
        progress(f"dropped {report.missing_target_dropped:,} rows without a target")
    missing = {name: share for name, share in report.missing_share.items() if share > 0}
    if missing:
        shown = ", ".join(f"{name} {share:.1%}" for name, share in sorted(missing.items(), key=lambda kv: -kv[1]))
        progress(f"missing values: {shown}")


def _time_range(frame: pd.DataFrame, time_column: str | None) -> TimeRange | None:
    if time_column is None or frame.empty:
        return None
    return {"start": str(frame[time_column].min()), "end": str(frame[time_column].max())}
