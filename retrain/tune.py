"""Hyperparameter search: grid or random, scored by cross-validation that respects time.

Rows arrive in time order (training data sorted by its time column; a retrain's reference rows, then live rows by
arrival), so folds are time-ordered: each fold trains on earlier rows and validates on the rows right after them,
as the model will be used. Without a time column the folds are shuffled (stratified for classifiers). Every trial
is reported through `progress` and kept in the result, which is stored with the version as evidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import KFold, ParameterGrid, ParameterSampler, StratifiedKFold, TimeSeriesSplit

from driftline.core import (
    ESTIMATOR_STEP,
    ConfigError,
    DataError,
    ModelSettings,
    SearchRange,
    SearchSettings,
    greater_is_better,
    metric_from_outputs,
    plain,
)
from retrain.evaluate import model_outputs

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Trial:
    """One parameter combination and its score on each fold."""

    params: dict[str, Any]
    fold_scores: list[float]

    @property
    def score(self) -> float:
        """Mean over the folds where the metric was defined; NaN when it was defined on none."""
        defined = [s for s in self.fold_scores if not np.isnan(s)]
        return float(np.mean(defined)) if defined else float("nan")


@dataclass(frozen=True)
class TuningResult:
    """The winning parameters and every trial, as stored in a version's details."""

    best_params: dict[str, Any]
    best_score: float
    trials: list[Trial]
    metric: str
    method: str
    folds: int
    time_ordered: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "folds": self.folds,
            "time_ordered": self.time_ordered,
            "best_params": self.best_params,
            "best_score": self.best_score,
            "seconds": round(self.seconds, 3),
            "trials": [{"params": t.params, "score": t.score, "fold_scores": t.fold_scores} for t in self.trials],
        }


def candidates(search: SearchSettings, seed: int) -> list[dict[str, Any]]:
    """The parameter combinations to try: the whole grid, or `iterations` draws (no repeats from pure lists)."""
    if search.method == "grid":
        return [plain_params(params) for params in ParameterGrid(dict(search.space))]
    space = {name: _distribution(values) for name, values in search.space.items()}
    lists_only = all(isinstance(values, list) for values in search.space.values())
    size = int(np.prod([len(values) for values in search.space.values() if isinstance(values, list)]))
    draws = min(search.iterations, size) if lists_only else search.iterations
    return [plain_params(params) for params in ParameterSampler(space, n_iter=draws, random_state=seed)]


def tune(
    pipeline: Any,
    features: pd.DataFrame,
    target: pd.Series,
    *,
    search: SearchSettings,
    metric: str,
    task: str,
    time_ordered: bool,
    seed: int,
    progress: Progress,
) -> TuningResult:
    """Score every candidate by cross-validation on these rows (in time order when `time_ordered`); pick the best."""
    started = time.monotonic()
    _check_names(pipeline, search)
    combos = candidates(search, seed)
    splits = list(cv_folds(features, target, search.folds, task=task, time_ordered=time_ordered, seed=seed))
    progress(
        f"searching {len(combos)} parameter combinations ({search.method}) with {len(splits)} "
        f"{'time-ordered' if time_ordered else 'shuffled'} folds on {len(features):,} rows"
    )
    trials: list[Trial] = []
    best: Trial | None = None
    for number, params in enumerate(combos, start=1):
        trial = Trial(params, [_fold_score(pipeline, params, features, target, fold, metric, task) for fold in splits])
        trials.append(trial)
        if not np.isnan(trial.score) and (best is None or _beats(trial.score, best.score, metric)):
            best = trial
        shown = ", ".join(f"{name}={value}" for name, value in params.items())
        progress(
            f"trial {number}/{len(combos)} ({shown}): {metric} {trial.score:.4f}"
            + (f"; best {best.score:.4f}" if best is not None else "")
        )
    if best is None:
        raise DataError(f"no parameter combination gave a defined {metric} on the cross-validation folds")
    return TuningResult(
        best.params,
        best.score,
        trials,
        metric,
        search.method,
        len(splits),
        time_ordered,
        time.monotonic() - started,
    )


def searched(
    pipeline: Any,
    features: pd.DataFrame,
    target: pd.Series,
    *,
    model: ModelSettings,
    task: str,
    time_ordered: bool,
    progress: Progress,
) -> tuple[Any, TuningResult | None]:
    """The pipeline to fit: as configured without a search space, else with the best searched parameters."""
    if model.search is None:
        return pipeline, None
    result = tune(
        pipeline,
        features,
        target,
        search=model.search,
        metric=model.metric,
        task=task,
        time_ordered=time_ordered,
        seed=model.random_state,
        progress=progress,
    )
    shown = ", ".join(f"{name}={value}" for name, value in result.best_params.items())
    progress(
        f"best of {len(result.trials)} in {result.seconds:.1f} s: {shown} ({model.metric} {result.best_score:.4f})"
    )
    return with_params(pipeline, result.best_params), result


def with_params(pipeline: Any, params: dict[str, Any]) -> Any:
    """A fresh copy of the pipeline with these estimator parameters set."""
    return clone(pipeline).set_params(**{f"estimator__{name}": value for name, value in params.items()})


def _fold_score(
    pipeline: Any,
    params: dict[str, Any],
    features: pd.DataFrame,
    target: pd.Series,
    fold: tuple[np.ndarray, np.ndarray],
    metric: str,
    task: str,
) -> float:
    fit_rows, check_rows = fold
    model = with_params(pipeline, params)
    model.fit(features.iloc[fit_rows], target.iloc[fit_rows])
    outputs = model_outputs(model, features.iloc[check_rows], task)
    truth = target.iloc[check_rows].to_numpy()
    if task == "regression":
        return metric_from_outputs(metric, truth.astype("float64"), outputs, None)
    classes = np.asarray(model.classes_)
    return metric_from_outputs(metric, truth.astype(classes.dtype), outputs, classes)


def cv_folds(
    features: pd.DataFrame, target: pd.Series, folds: int, *, task: str, time_ordered: bool, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(training positions, validation positions) per fold; time-ordered folds validate on the rows after."""
    if len(features) < 2 * (folds + 1):
        raise DataError(f"{len(features)} rows are too few for {folds}-fold cross-validation")
    if time_ordered:
        return TimeSeriesSplit(n_splits=folds).split(features)
    if task == "classification" and target.value_counts().min() >= folds:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(features, target)
    return KFold(n_splits=folds, shuffle=True, random_state=seed).split(features)


def _check_names(pipeline: Any, search: SearchSettings) -> None:
    known = set(pipeline.named_steps[ESTIMATOR_STEP].get_params(deep=False))
    unknown = sorted(set(search.space) - known)
    if unknown:
        estimator = type(pipeline.named_steps[ESTIMATOR_STEP]).__name__
        raise ConfigError("model.search.space", f"{estimator} has no parameter {', '.join(map(repr, unknown))}")


def _distribution(values: list[Any] | SearchRange) -> Any:
    if isinstance(values, list):
        return values
    if values.integer:
        if values.log:
            return _LogInteger(int(values.low), int(values.high))
        return stats.randint(int(values.low), int(values.high) + 1)
    if values.log:
        return stats.loguniform(values.low, values.high)
    return stats.uniform(values.low, values.high - values.low)


class _LogInteger:
    """Whole numbers spread evenly on a log scale between `low` and `high` (both included)."""

    def __init__(self, low: int, high: int) -> None:
        self._low, self._high = low, high
        self._continuous = stats.loguniform(low, high + 1)

    def rvs(self, random_state: Any = None) -> int:
        return min(self._high, int(self._continuous.rvs(random_state=random_state)))


def plain_params(params: dict[str, Any]) -> dict[str, Any]:
    """Numpy scalars as Python values, so parameters are stored and shown as written."""
    return {name: plain(value) for name, value in params.items()}


def _beats(score: float, other: float, metric: str) -> bool:
    return score > other if greater_is_better(metric) else score < other
