"""What training keeps of the holdout for label-free performance estimation: the holdout's labels with the
model's outputs (`performance.parquet`) and, for a regressor, the nanny models of each row's loss (`nanny.joblib`).

They are stored with the version, hashed like its other files, so promotion and rollback carry them along with
the model. The monitor fits CBPE on the first and uses the second as DLE's loss model (see
`monitoring.estimation`). A multiclass classifier gets neither: it is not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from driftline.core import PREDICTION_COLUMN, FeatureSchema
from monitoring import DLE_METRICS, nanny_inputs, performance_frame, row_loss
from retrain.evaluate import model_outputs

MAX_ROWS = 100_000  # the most recent holdout rows kept: enough chunks for the threshold, a small file and nanny fit


@dataclass(frozen=True)
class PerformanceReference:
    """The holdout's labels and outputs, and the nanny models of a regressor (metric name -> model)."""

    frame: pd.DataFrame
    nanny: dict[str, Any] | None


def reference_for_estimation(
    pipeline: Any, schema: FeatureSchema, holdout: pd.DataFrame, seed: int
) -> PerformanceReference | None:
    """The performance reference of a fitted pipeline on its holdout; None for a multiclass classifier."""
    if schema.task == "classification" and len(schema.classes) != 2:
        return None
    holdout = holdout.tail(MAX_ROWS)
    features = holdout[list(schema.features)]
    outputs = model_outputs(pipeline, features, schema.task)
    frame = performance_frame(schema, list(holdout[schema.target]), outputs)
    if schema.task == "classification":
        return PerformanceReference(frame, None)
    inputs = nanny_inputs(features.assign(**{PREDICTION_COLUMN: outputs}).reset_index(drop=True), schema)
    truth = holdout[schema.target].to_numpy(dtype="float64")
    nanny = {metric: nanny_model(schema, seed).fit(inputs, row_loss(metric, truth, outputs)) for metric in DLE_METRICS}
    return PerformanceReference(frame, nanny)


def nanny_model(schema: FeatureSchema, seed: int) -> Pipeline:
    """A small gradient-boosted regressor over the features (categories as ordinal codes) and the prediction."""
    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
    columns = ColumnTransformer(
        [("categorical", encode, list(schema.categorical))], remainder="passthrough", verbose_feature_names_out=False
    )
    return Pipeline(
        [
            ("columns", columns),
            ("loss", HistGradientBoostingRegressor(max_iter=100, max_leaf_nodes=15, random_state=seed)),
        ]
    )
