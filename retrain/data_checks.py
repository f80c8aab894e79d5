"""Checks run on training data before any fit: schema and types, repeated ids and identical rows, missing values,
target sanity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from driftline.core import DataChecks, DataError, FeatureSchema

MIN_ROWS = 50


@dataclass
class DataReport:
    """What the checks found and did; stored with the version and printed by `driftline train`."""

    rows_in: int
    repeated_ids_dropped: int = 0
    identical_rows: int = 0
    identical_share: float = 0.0
    duplicates_dropped: int = 0
    missing_target_dropped: int = 0
    missing_share: dict[str, float] = field(default_factory=dict)
    fingerprint: str = ""

    def to_dict(self) -> DataChecks:
        return {
            "rows_in": self.rows_in,
            "repeated_ids_dropped": self.repeated_ids_dropped,
            "identical_rows": self.identical_rows,
            "identical_share": self.identical_share,
            "duplicates_dropped": self.duplicates_dropped,
            "missing_target_dropped": self.missing_target_dropped,
            "missing_share": self.missing_share,
            "fingerprint": self.fingerprint,
        }


def check_training_data(
    frame: pd.DataFrame,
    schema: FeatureSchema,
    time_column: str | None,
    *,
    id_column: str | None = None,
    drop_duplicate_rows: bool = False,
) -> tuple[pd.DataFrame, DataReport]:
    """Return the usable rows (typed, labelled, without repeated ids) and a report; raise `DataError` if unusable.

    Rows identical to an earlier one in every column read are counted, and dropped only with `drop_duplicate_rows`:
    they are usually real observations, and dropping them would change what the model and the drift reference see.
    """
    report = DataReport(rows_in=len(frame))
    read = list(schema.features) + [schema.target] + ([time_column] if time_column else [])
    columns = read + ([id_column] if id_column else [])
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
    if id_column:
        repeated = data[id_column].duplicated(keep="first")
        report.repeated_ids_dropped = int(repeated.sum())
        data = data.loc[~repeated, read]
    identical = data.duplicated(keep="first")
    report.identical_rows = int(identical.sum())
    report.identical_share = round(report.identical_rows / len(data), 4) if len(data) else 0.0
    if drop_duplicate_rows:
        report.duplicates_dropped = report.identical_rows
        data = data[~identical]
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
