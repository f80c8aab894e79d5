"""A fast path for small requests: the fitted preprocessing of a Pipeline replayed with plain numpy.

A scikit-learn ColumnTransformer costs milliseconds per call on a one-row DataFrame, mostly in validation and
bookkeeping; the arithmetic is trivial. `CompiledPreprocessing.compile` reads the fitted imputers, scaler and
one-hot encoder of the pipeline Driftline builds, learns each category's output column by asking the fitted
encoder itself, and then checks on probe rows (missing values, unseen and rare categories included) that its
output gives exactly the pipeline's predictions. If the pipeline has another shape, or the check fails, there is
no fast path and the pipeline is called as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.schema import FeatureSchema
from driftline.core.steps import (
    CATEGORICAL_BLOCK,
    COLUMNS_STEP,
    ENCODE_STEP,
    ESTIMATOR_STEP,
    IMPUTE_STEP,
    NUMERIC_BLOCK,
    SCALE_STEP,
)

_UNKNOWN_PROBE = "\x00driftline-unseen-category"


@dataclass(frozen=True)
class _Categorical:
    name: str
    offset: int
    columns: dict[str, int]  # category -> output column within the block, -1 for none
    unknown: int  # output column of a category never seen in training, -1 for none
    fill: str  # what the imputer puts in place of a missing value


class CompiledPreprocessing:
    """The pipeline's ColumnTransformer as numpy operations on row dicts."""

    def __init__(
        self,
        schema: FeatureSchema,
        width: int,
        medians: np.ndarray,
        means: np.ndarray,
        scales: np.ndarray,
        categorical: list[_Categorical],
    ) -> None:
        self.schema = schema
        self.width = width
        self.medians = medians
        self.means = means
        self.scales = scales
        self.categorical = categorical

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Rows validated against the schema (numbers or None, strings or None) to the estimator's input."""
        count = len(rows)
        out = np.zeros((count, self.width), dtype="float64")
        numeric = self.schema.numeric
        if numeric:
            values = np.array([[row[name] for name in numeric] for row in rows], dtype="float64")
            values = np.where(np.isnan(values), self.medians, values)
            out[:, : len(numeric)] = (values - self.means) / self.scales
        index = np.arange(count)
        for feature in self.categorical:
            columns = feature.columns
            picked = np.fromiter(
                (
                    columns.get(feature.fill if v is None else v, feature.unknown)
                    for v in (r[feature.name] for r in rows)
                ),
                dtype=np.int64,
                count=count,
            )
            hit = picked >= 0
            out[index[hit], feature.offset + picked[hit]] = 1.0
        return out

    @classmethod
    def compile(cls, pipeline: Any, schema: FeatureSchema) -> CompiledPreprocessing | None:
        """The fast path for `pipeline`, or None when its shape is not the one Driftline builds or it disagrees."""
        try:
            compiled = cls._read(pipeline, schema)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None
        if compiled is None or not compiled._agrees_with(pipeline):
            return None
        return compiled

    @classmethod
    def _read(cls, pipeline: Any, schema: FeatureSchema) -> CompiledPreprocessing | None:
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        columns = pipeline.named_steps[COLUMNS_STEP]
        slices = columns.output_indices_
        width = int(sum(s.stop - s.start for s in slices.values()))
        names = {name: (transformer, list(cols)) for name, transformer, cols in columns.transformers_}
        if set(names) - {NUMERIC_BLOCK, CATEGORICAL_BLOCK, "remainder"} or columns.remainder != "drop":
            return None
        medians = means = scales = np.zeros(0)
        if schema.numeric:
            numeric, cols = names[NUMERIC_BLOCK]
            imputer, scaler = numeric.named_steps[IMPUTE_STEP], numeric.named_steps[SCALE_STEP]
            ok = isinstance(imputer, SimpleImputer) and isinstance(scaler, StandardScaler)
            if not ok or cols != list(schema.numeric) or slices[NUMERIC_BLOCK].start != 0:
                return None
            medians = np.asarray(imputer.statistics_, dtype="float64")
            means = np.asarray(scaler.mean_ if scaler.with_mean else np.zeros(len(cols)), dtype="float64")
            scales = np.asarray(scaler.scale_ if scaler.with_std else np.ones(len(cols)), dtype="float64")
        categorical: list[_Categorical] = []
        if schema.categorical:
            block, cols = names[CATEGORICAL_BLOCK]
            imputer, encoder = block.named_steps[IMPUTE_STEP], block.named_steps[ENCODE_STEP]
            ok = isinstance(imputer, SimpleImputer) and imputer.strategy == "constant"
            if not ok or not isinstance(encoder, OneHotEncoder) or cols != list(schema.categorical):
                return None
            categorical = cls._category_columns(block, schema, str(imputer.fill_value), slices[CATEGORICAL_BLOCK].start)
        return cls(schema, width, medians, means, scales, categorical)

    @staticmethod
    def _category_columns(block: Any, schema: FeatureSchema, fill: str, start: int) -> list[_Categorical]:
        """Ask the fitted encoder which output column each known (and an unseen) category lights up."""
        encoder = block.named_steps[ENCODE_STEP]
        widths = list(encoder._n_features_outs)  # per-feature output widths; the agreement check guards this
        names = list(schema.categorical)
        defaults = {name: str(encoder.categories_[i][0]) for i, name in enumerate(names)}
        result: list[_Categorical] = []
        offset = start
        for i, name in enumerate(names):
            probes = [str(c) for c in encoder.categories_[i]] + [_UNKNOWN_PROBE]
            frame = pd.DataFrame({other: [defaults[other]] * len(probes) for other in names})
            frame[name] = probes
            encoded = np.asarray(block.transform(frame))
            local = encoded[:, offset - start : offset - start + widths[i]]
            active = [int(np.argmax(row)) if row.any() else -1 for row in local]
            columns = dict(zip(probes[:-1], active[:-1], strict=True))
            result.append(_Categorical(name, offset, columns, active[-1], fill))
            offset += widths[i]
        return result

    def _agrees_with(self, pipeline: Any) -> bool:
        """The estimator gives the same outputs on our matrix as the whole pipeline on a DataFrame of probe rows."""
        rng = np.random.default_rng(0)
        rows: list[dict[str, Any]] = []
        for index in range(64):
            row: dict[str, Any] = {}
            for j, name in enumerate(self.schema.numeric):
                row[name] = None if index % 7 == j % 7 else float(self.means[j] + self.scales[j] * rng.normal())
            for feature in self.categorical:
                known = list(feature.columns)
                choice = index % (len(known) + 2)
                row[feature.name] = known[choice] if choice < len(known) else (None if choice == len(known) else "?")
            rows.append(row)
        estimator = pipeline.named_steps[ESTIMATOR_STEP]
        frame = self.schema.frame(rows)
        method = "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
        expected = np.asarray(getattr(pipeline, method)(frame), dtype="float64")
        actual = np.asarray(getattr(estimator, method)(self.transform(rows)), dtype="float64")
        return expected.shape == actual.shape and bool(np.allclose(expected, actual, rtol=0, atol=1e-9))
