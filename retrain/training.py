"""Train a version on the configured data: checks, fit, holdout metrics beside a baseline, register, maybe promote.

Every run is a `training_runs` record, whether it ends in a registered version or a failure with its reason.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor

import driftline
from driftline.core import (
    ESTIMATOR_STEP,
    PREDICTION_COLUMN,
    DriftlineError,
    FeatureSchema,
    ModelVersion,
    Registry,
    Settings,
    infer_schema,
    jsonable,
    load_dataset,
)
from retrain.artifacts import write_artifacts
from retrain.data_checks import DataReport, check_training_data, split_holdout
from retrain.evaluate import holdout_metrics, is_better
from retrain.pipeline import build_pipeline
from retrain.tune import searched

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingOutcome:
    """The registered version and what became of it."""

    version: ModelVersion
    promoted: bool
    decision: str


def quiet(_: str) -> None:
    return None


def code_version() -> str:
    """The package version, with the git commit when run from a checkout."""
    root = Path(driftline.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{driftline.__version__}+{commit}" if commit else driftline.__version__


def reference_sample(train: pd.DataFrame, pipeline: Any, schema: FeatureSchema, rows: int, seed: int) -> pd.DataFrame:
    """Training features (a random sample) with the target and the model's own prediction: the drift baseline."""
    sample = train.sample(n=min(rows, len(train)), random_state=seed) if len(train) > rows else train
    reference = schema.coerce(sample)
    reference[schema.target] = sample[schema.target].to_numpy()
    reference[PREDICTION_COLUMN] = prediction_column(pipeline, reference[list(schema.features)], schema)
    return reference.reset_index(drop=True)


def prediction_column(pipeline: Any, features: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
    """What drift of the prediction is measured on: P(positive) for binary, the class or value otherwise."""
    if schema.summarizes_with_probability:
        return np.asarray(pipeline.predict_proba(features))[:, 1]
    return np.asarray(pipeline.predict(features))


def train(
    settings: Settings, registry: Registry, *, trigger: str = "manual", progress: Progress = quiet
) -> TrainingOutcome:
    """Fit on the configured data and register the version; promote it when nothing is in production."""
    run_id = registry.store.start_run(trigger)
    started = time.monotonic()
    try:
        outcome = _train(settings, registry, run_id=run_id, trigger=trigger, progress=progress, started=started)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, DriftlineError) else f"{type(exc).__name__}: {exc}"
        registry.store.finish_run(run_id, status="failed", message=message)
        raise
    registry.store.finish_run(
        run_id,
        status="succeeded",
        version=outcome.version.version,
        message=outcome.decision,
        details={"promoted": outcome.promoted, "duration_seconds": round(time.monotonic() - started, 3)},
    )
    return outcome


def _train(
    settings: Settings, registry: Registry, *, run_id: int, trigger: str, progress: Progress, started: float
) -> TrainingOutcome:
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
    train_rows, holdout_rows = split_holdout(
        data,
        settings.model.holdout_fraction,
        time_column=data_settings.time_column,
        stratify=schema.target if schema.task == "classification" else None,
        seed=settings.model.random_state,
    )
    features = list(schema.features)
    pipeline, tuning = searched(
        build_pipeline(
            schema, settings.model.estimator, settings.model.params, settings.model.allowed_estimator_modules
        ),
        train_rows[features],
        train_rows[schema.target],
        model=settings.model,
        task=schema.task,
        time_ordered=data_settings.time_column is not None,
        progress=progress,
    )
    baseline = clone(pipeline).set_params(
        estimator=DummyClassifier(strategy="prior") if schema.task == "classification" else DummyRegressor()
    )
    progress(
        f"fitting {settings.model.estimator} on {len(train_rows):,} rows "
        f"(holdout {len(holdout_rows):,} rows{', most recent' if data_settings.time_column else ''})"
    )
    fit_started = time.monotonic()
    pipeline.fit(train_rows[features], train_rows[schema.target])
    baseline.fit(train_rows[features], train_rows[schema.target])
    progress(f"fitted in {time.monotonic() - fit_started:.1f} s; evaluating on the holdout")
    metrics = holdout_metrics(
        pipeline, holdout_rows[features], holdout_rows[schema.target], schema.task, settings.model.metric
    )
    baseline_metrics = holdout_metrics(
        baseline, holdout_rows[features], holdout_rows[schema.target], schema.task, settings.model.metric
    )
    metric = settings.model.metric
    progress(f"holdout {metric}: model {metrics[metric]:.4f}, baseline {baseline_metrics[metric]:.4f}")
    if schema.task == "classification":
        schema = schema.with_classes(list(pipeline.classes_))
    reference = reference_sample(
        train_rows, pipeline, schema, settings.model.reference_rows, settings.model.random_state
    )
    beats_baseline = is_better(metrics[metric], baseline_metrics[metric], metric)
    details: dict[str, Any] = {
        "estimator": settings.model.estimator,
        "params": jsonable(pipeline.named_steps[ESTIMATOR_STEP].get_params()),
        "configured_params": jsonable(settings.model.params),
        "tuning": jsonable(tuning.to_dict()) if tuning else None,
        "metric": metric,
        "metrics": jsonable(metrics),
        "baseline_metrics": jsonable(baseline_metrics),
        "data": {
            "source": dataset.source,
            "rows_train": len(train_rows),
            "rows_holdout": len(holdout_rows),
            "rows_reference": len(reference),
            **report.to_dict(),
        },
        "time_range": _time_range(train_rows, data_settings.time_column),
        "code_version": code_version(),
        "duration_seconds": round(time.monotonic() - started, 3),
        "trigger": trigger,
        "run_id": run_id,
    }
    progress("writing artifacts to the BentoML model store")
    folder, tag = write_artifacts(
        registry.model_dir,
        settings.model.name,
        pipeline,
        reference,
        metadata={"metric": metric, "value": metrics[metric], "run_id": run_id},
    )
    status_reason = (
        None
        if beats_baseline
        else f"{metric} {metrics[metric]:.4f} does not beat the baseline's {baseline_metrics[metric]:.4f}"
    )
    version = registry.register(
        folder,
        name=settings.model.name,
        tag=tag,
        schema=schema,
        details=details,
        status="registered" if beats_baseline else "rejected",
        status_reason=status_reason,
    )
    progress(f"registered version {version.version} ({tag})")
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


def _time_range(frame: pd.DataFrame, time_column: str | None) -> dict[str, str] | None:
    if time_column is None or frame.empty:
        return None
    return {"start": str(frame[time_column].min()), "end": str(frame[time_column].max())}
