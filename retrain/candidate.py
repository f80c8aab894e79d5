"""One path from training rows to a registered version, shared by the first training and every retrain.

Both build the configured pipeline, search its parameters when a search space is set, fit it, score it on a
holdout it never saw, measure each feature's permutation importance on that holdout, sample its drift reference
from the rows it was fitted on, keep the holdout's labels and outputs for label-free performance estimation, and
register its files as a version. What the candidate is compared with, and what the comparison decides, is the
caller's policy: `train` holds it against a dummy baseline, `retrain` against the champion. The caller hands its
verdict to `Candidate.register`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import driftline
from driftline.core import (
    ESTIMATOR_STEP,
    PREDICTION_COLUMN,
    FeatureImportance,
    FeatureSchema,
    ModelSettings,
    ModelVersion,
    Registry,
    VersionDetails,
    jsonable,
)
from retrain.artifacts import write_artifacts
from retrain.evaluate import holdout_metrics
from retrain.importance import feature_importance
from retrain.performance_reference import PerformanceReference, reference_for_estimation
from retrain.pipeline import build_pipeline
from retrain.tune import TuningResult, searched

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Candidate:
    """A fitted pipeline with its holdout metrics, drift reference and performance reference: a version once
    registered."""

    pipeline: Any
    schema: FeatureSchema  # with the classes the pipeline learnt, for a classifier
    metric: str
    metrics: dict[str, Any]  # on the holdout, as computed (NaN where undefined)
    reference: pd.DataFrame
    tuning: TuningResult | None
    performance: PerformanceReference | None  # None for a multiclass classifier, which is not estimated
    feature_importance: FeatureImportance  # on the holdout, stored in the version's details

    @property
    def params(self) -> dict[str, Any]:
        """The fitted estimator's parameters, as stored."""
        return dict(jsonable(self.pipeline.named_steps[ESTIMATOR_STEP].get_params()))

    @property
    def tuning_details(self) -> dict[str, Any] | None:
        """The search's trials and winner, as stored; None without a search space."""
        return jsonable(self.tuning.to_dict()) if self.tuning else None

    def register(
        self, registry: Registry, *, name: str, run_id: int, details: VersionDetails, rejected_because: str | None
    ) -> ModelVersion:
        """Write the files into the model store and register them: `rejected` with the reason when one is given."""
        folder, tag = write_artifacts(
            registry.model_dir,
            name,
            self.pipeline,
            self.reference,
            metadata={"metric": self.metric, "value": self.metrics[self.metric], "run_id": run_id},
            performance=self.performance,
        )
        return registry.register(
            folder,
            name=name,
            tag=tag,
            schema=self.schema,
            details=details,
            status="registered" if rejected_because is None else "rejected",
            status_reason=rejected_because,
        )


def build_candidate(
    model: ModelSettings,
    schema: FeatureSchema,
    training: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    time_ordered: bool,
    progress: Progress,
    fitting: str | None = None,
) -> Candidate:
    """Build, search, fit on `training` and score on `holdout`.

    `fitting`, when given, is reported once the search is done, and the fit's duration after it (`driftline train`
    shows both; a retrain reports its rows before the search instead).
    """
    features, target = list(schema.features), schema.target
    pipeline, tuning = searched(
        build_pipeline(schema, model.estimator, model.params, model.allowed_estimator_modules),
        training[features],
        training[target],
        model=model,
        task=schema.task,
        time_ordered=time_ordered,
        progress=progress,
    )
    if fitting is not None:
        progress(fitting)
    fit_started = time.monotonic()
    pipeline.fit(training[features], training[target])
    if fitting is not None:
        progress(f"fitted in {time.monotonic() - fit_started:.1f} s; evaluating on the holdout")
    metrics = holdout_metrics(pipeline, holdout[features], holdout[target], schema.task, model.metric)
    if schema.task == "classification":
        schema = schema.with_classes(list(pipeline.classes_))
    reference = reference_sample(training, pipeline, schema, model.reference_rows, model.random_state)
    performance = reference_for_estimation(pipeline, schema, holdout, model.random_state)
    importance = feature_importance(
        pipeline,
        holdout,
        schema,
        model.metric,
        rows=model.importance_rows,
        repeats=model.importance_repeats,
        seed=model.random_state,
    )
    return Candidate(pipeline, schema, model.metric, metrics, reference, tuning, performance, importance)


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
