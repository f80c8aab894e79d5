"""Checks run on training data before any fit: schema and types, duplicates, missing values, target sanity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftline.core import DataError, FeatureSchema

MIN_ROWS = 50


@dataclass
class DataReport:
    """What the checks found and did; stored with the version and printed by `driftline train`."""

    rows_in: int
    duplicates_dropped: int = 0
    missing_target_dropped: int = 0
    missing_share: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "duplicates_dropped": self.duplicates_dropped,
            "missing_target_dropped": self.missing_target_dropped,
            "missing_share": self.missing_share,
            "fingerprint": self.fingerprint,
        }


def check_training_data(
    frame: pd.DataFrame, schema: FeatureSchema, time_column: str | None
) -> tuple[pd.DataFrame, DataReport]:
    """Return the usable rows (typed, deduplicated, labelled) and a report; raise `DataError` if unusable."""
    report = DataReport(rows_in=len(frame))
    columns = list(schema.features) + [schema.target] + ([time_column] if time_column else [])
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"columns missing from the data: {', '.join(missing)}")
    data = frame.loc[:, columns].copy()
    for name in schema.numeric:
        converted = pd.to_numeric(data[name], errors="coerce")
        bad = data[name][converted.isna() & data[name].notna()]
        if len(bad):
            raise DataError(f"numeric feature {name!r} holds non-numbers, e.g. {str(bad.iloc[0])[:40]!r}")
    # the same types the service gives a request: floats, and categories as strings
    data[list(schema.features)] = schema.coerce(data)
    labelled = data[schema.target].notna()
    report.missing_target_dropped = int((~labelled).sum())
    data = data[labelled]
    before = len(data)
    data = data.drop_duplicates()
    report.duplicates_dropped = before - len(data)
    if schema.task == "classification":
        classes = data[schema.target].unique()
        if len(classes) < 2:
            shown = repr(classes[0]) if len(classes) else "none"
            raise DataError(f"target {schema.target!r} has only one class ({shown}); a classifier needs two or more")
    else:
        target = pd.to_numeric(data[schema.target], errors="coerce")
        if target.isna().any():
            raise DataError(f"regression target {schema.target!r} holds non-numbers")
        data[schema.target] = target.astype("float64")
    if len(data) < MIN_ROWS:
        raise DataError(f"only {len(data)} usable rows; at least {MIN_ROWS} are needed to train and evaluate")
    report.missing_share = {name: round(float(data[name].isna().mean()), 4) for name in schema.features}
    hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
    report.fingerprint = hashlib.sha256(hashed.tobytes()).hexdigest()
    return data.reset_index(drop=True), report


def split_holdout(
    data: pd.DataFrame, fraction: float, *, time_column: str | None, stratify: str | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The most recent `fraction` of rows with a time column; otherwise a stratified (classification) random split."""
    size = max(1, round(len(data) * fraction))
    if time_column is not None:
        ordered = data.sort_values(time_column, kind="stable")
        return ordered.iloc[:-size], ordered.iloc[-size:]
    from sklearn.model_selection import train_test_split

    labels = data[stratify] if stratify is not None and data[stratify].value_counts().min() >= 2 else None
    train, holdout = train_test_split(data, test_size=size, random_state=seed, stratify=labels)
    return train, holdout
