"""How much a fitted model relies on each feature, measured once at training and stored with the version.

The monitor weighs each feature's drift by it, so drift in a feature the model ignores does not count as drift
that matters. Permutation importance on the holdout (rows the model never saw) answers "how much worse is the
configured metric when this feature's values are shuffled": it works for any estimator in any pipeline, and it is
in the metric champion and challenger are compared on. A sample of the holdout and a few shuffles keep it to about
a second on the flights model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from driftline.core import FeatureImportance, FeatureSchema, greater_is_better, metric_from_outputs
from retrain.evaluate import model_outputs


def feature_importance(
    pipeline: Any, holdout: pd.DataFrame, schema: FeatureSchema, metric: str, *, rows: int, repeats: int, seed: int
) -> FeatureImportance:
    """Permutation importance of every feature of `schema` on (a sample of) `holdout`, in units of `metric`."""
    sample = holdout.sample(n=rows, random_state=seed) if len(holdout) > rows else holdout
    features = list(schema.features)
    classes = np.asarray(pipeline.classes_) if schema.task == "classification" else None
    sign = 1.0 if greater_is_better(metric) else -1.0

    def score(estimator: Any, x: pd.DataFrame, y: pd.Series) -> float:
        # the project's own metric, signed so that larger is better, as permutation_importance expects
        truth = y.to_numpy().astype(classes.dtype) if classes is not None else y.to_numpy(dtype="float64")
        return sign * metric_from_outputs(metric, truth, model_outputs(estimator, x, schema.task), classes)

    found = permutation_importance(
        pipeline, sample[features], sample[schema.target], scoring=score, n_repeats=repeats, random_state=seed
    )
    return {
        "metric": metric,
        "rows": len(sample),
        "repeats": repeats,
        "mean": {name: _finite(value) for name, value in zip(features, found.importances_mean, strict=True)},
        "std": {name: _finite(value) for name, value in zip(features, found.importances_std, strict=True)},
    }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
