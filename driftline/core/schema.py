"""The feature schema: which columns a model reads and of which kind.

It is inferred from training data when the config does not list features, stored with every model version, and is
what the service builds its request schema from and what incoming rows are checked against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.errors import DataError, InvalidInput
from driftline.core.jsonvalues import plain

# an object column with more distinct values than this share of rows looks like an identifier, not a category
_ID_LIKE_SHARE = 0.5
_ID_LIKE_MIN_DISTINCT = 50


# Numbers beyond this are refused: no real feature needs them, and near float64's end they overflow once scaled
# (which fails the model) or skew the drift statistics computed from the logged rows.
MAX_MAGNITUDE = 1e18
# Longer category values are refused: no real category needs them, and each is stored with every logged row.
MAX_CATEGORY_LENGTH = 200


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered numeric and categorical feature names, plus the target and the classes a classifier predicts."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str
    task: str
    classes: tuple[Any, ...] = field(default_factory=tuple)

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def summarizes_with_probability(self) -> bool:
        """Whether prediction drift is measured on P(positive class) (binary classifiers) or on the prediction."""
        return self.task == "classification" and len(self.classes) == 2

    def prediction_summary(self, output: Mapping[str, Any]) -> Any:
        """The value of a logged output that prediction drift is measured on, as the reference's prediction column."""
        return output.get("probability") if self.summarizes_with_probability else output.get("prediction")

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "target": self.target,
            "task": self.task,
            "classes": [plain(c) for c in self.classes],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FeatureSchema:
        return cls(
            numeric=tuple(raw["numeric"]),
            categorical=tuple(raw["categorical"]),
            target=raw["target"],
            task=raw["task"],
            classes=tuple(raw.get("classes", ())),
        )

    def with_classes(self, classes: Sequence[Any]) -> FeatureSchema:
        return FeatureSchema(self.numeric, self.categorical, self.target, self.task, tuple(classes))

    def frame(self, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
        """Rows already checked by `check_row` as a DataFrame with the dtypes the pipeline was trained on."""
        frame = pd.DataFrame.from_records(list(rows), columns=list(self.features))
        return self.coerce(frame)

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Cast numeric columns to float and categorical ones to object strings, missing values as NaN."""
        out = frame.loc[:, list(self.features)].copy()
        for name in self.numeric:
            out[name] = pd.to_numeric(out[name], errors="raise").astype("float64")
        for name in self.categorical:
            column = out[name].astype(object)
            missing = column.isna()
            if pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
                column = column.astype(str)
            out[name] = column.where(~missing, np.nan)
        return out

    def check_row(self, row: Mapping[str, Any], index: int | None = None) -> None:
        """Raise `InvalidInput` naming the first field that is missing, extra, of the wrong type or not finite."""
        for name in self.features:
            if name not in row:
                raise InvalidInput(name, "missing feature", row=index)
        for name in row:
            if name not in self.features:
                raise InvalidInput(name, f"unknown feature; expected {', '.join(self.features)}", row=index)
        for name in self.numeric:
            value = row[name]
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(name, f"expected a number or null, got {type(value).__name__}", row=index)
            if not math.isfinite(value):
                raise InvalidInput(name, f"expected a finite number, got {value}", row=index)
        for name in self.categorical:
            value = row[name]
            if value is not None and not isinstance(value, str):
                raise InvalidInput(name, f"expected a string or null, got {type(value).__name__}", row=index)

    def check_frame(self, frame: pd.DataFrame, source: str = "upload") -> pd.DataFrame:
        """Check a whole uploaded table: every feature present, numeric columns numeric and finite."""
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise InvalidInput(missing[0], f"missing column in {source} (missing: {', '.join(missing)})")
        extra = [name for name in frame.columns if name not in self.features]
        if extra:
            raise InvalidInput(extra[0], f"unknown column in {source}; expected {', '.join(self.features)}")
        for name in self.numeric:
            column = frame[name]
            if not (pd.api.types.is_numeric_dtype(column) or column.isna().all()):
                converted = pd.to_numeric(column, errors="coerce")
                bad = column[converted.isna() & column.notna()]
                if len(bad):
                    raise InvalidInput(name, f"expected numbers, got {str(bad.iloc[0])[:40]!r}", row=int(bad.index[0]))
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            infinite = np.isinf(values)
            if infinite.any():
                raise InvalidInput(name, "expected finite numbers, got infinity", row=int(np.argmax(infinite)))
            huge = np.abs(np.nan_to_num(values)) > MAX_MAGNITUDE
            if huge.any():
                raise InvalidInput(name, f"numbers must be within ±{MAX_MAGNITUDE:g}", row=int(np.argmax(huge)))
        for name in self.categorical:
            lengths = frame[name].astype("string").str.len().fillna(0).to_numpy()
            if len(lengths) and lengths.max() > MAX_CATEGORY_LENGTH:
                row = int(np.argmax(lengths > MAX_CATEGORY_LENGTH))
                raise InvalidInput(name, f"values must be at most {MAX_CATEGORY_LENGTH} characters", row=row)
        return self.coerce(frame)


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    task: str,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
) -> FeatureSchema:
    """Use the listed features, or infer them: numbers are numeric, the rest categorical; id-like text and the
    id column are left out."""
    if target not in frame.columns:
        raise DataError(f"target column {target!r} is not in the data (columns: {', '.join(map(str, frame.columns))})")
    if numeric or categorical:
        listed = list(numeric) + list(categorical)
        missing = [name for name in listed if name not in frame.columns]
        if missing:
            raise DataError(f"configured features not in the data: {', '.join(missing)}")
        if target in listed:
            raise DataError(f"the target {target!r} is also listed as a feature")
        if id_column is not None and id_column in listed:
            raise DataError(f"the id column {id_column!r} is also listed as a feature")
        return FeatureSchema(tuple(numeric), tuple(categorical), target, task)
    inferred_numeric: list[str] = []
    inferred_categorical: list[str] = []
    for name in frame.columns:
        if name in (target, time_column, id_column):
            continue
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            continue
        if pd.api.types.is_bool_dtype(column):
            inferred_categorical.append(str(name))
        elif pd.api.types.is_numeric_dtype(column):
            inferred_numeric.append(str(name))
        else:
            distinct = column.nunique(dropna=True)
            if distinct > _ID_LIKE_MIN_DISTINCT and distinct > _ID_LIKE_SHARE * len(column):
                continue
            inferred_categorical.append(str(name))
    if not inferred_numeric and not inferred_categorical:
        raise DataError("no usable feature columns were found beside the target")
    return FeatureSchema(tuple(inferred_numeric), tuple(inferred_categorical), target, task)
