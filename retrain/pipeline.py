"""The scikit-learn Pipeline every version is: column preprocessing from the feature schema, then the estimator."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from driftline.core import (
    CATEGORICAL_BLOCK,
    COLUMNS_STEP,
    ENCODE_STEP,
    ESTIMATOR_STEP,
    IMPUTE_STEP,
    NUMERIC_BLOCK,
    SCALE_STEP,
    ConfigError,
    FeatureSchema,
    estimator_refusal,
)


def estimator_class(import_path: str, allowed_modules: Sequence[str] = ()) -> type[BaseEstimator]:
    """Resolve the estimator class; only scikit-learn and the allowed modules are ever imported from config.

    The settings already refused other paths; checking again here, before the import, keeps that true for any
    caller that did not come through `load_settings`.
    """
    refusal = estimator_refusal(import_path, allowed_modules)
    if refusal is not None:
        raise ConfigError("model.estimator", refusal)
    module_name, _, class_name = import_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ConfigError("model.estimator", f"{import_path!r} cannot be imported") from None
    if not (isinstance(cls, type) and callable(getattr(cls, "fit", None)) and hasattr(cls, "get_params")):
        raise ConfigError("model.estimator", f"{import_path!r} is not an estimator class (with fit and get_params)")
    return cls


def build_pipeline(
    schema: FeatureSchema, import_path: str, params: dict[str, Any], allowed_modules: Sequence[str] = ()
) -> Pipeline:
    """Impute and scale numbers, impute and one-hot encode categories (unseen ones ignored), then the estimator."""
    cls = estimator_class(import_path, allowed_modules)
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise ConfigError("model.params", f"{import_path} does not accept these parameters: {exc}") from None
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numeric:
        numeric = Pipeline([(IMPUTE_STEP, SimpleImputer(strategy="median")), (SCALE_STEP, StandardScaler())])
        transformers.append((NUMERIC_BLOCK, numeric, list(schema.numeric)))
    if schema.categorical:
        categorical = Pipeline(
            [
                (IMPUTE_STEP, SimpleImputer(strategy="constant", fill_value="__missing__")),
                (
                    ENCODE_STEP,
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", min_frequency=5, max_categories=40, sparse_output=False
                    ),
                ),
            ]
        )
        transformers.append((CATEGORICAL_BLOCK, categorical, list(schema.categorical)))
    columns = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([(COLUMNS_STEP, columns), (ESTIMATOR_STEP, estimator)])
