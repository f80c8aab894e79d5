from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from driftline.core import DataError, load_dataset, read_table
from driftline.core.settings import DataSettings
from tests.factories import make_loans


def test_builtin_flights_are_real_and_split_at_march() -> None:
    """January-February 2013 trains; March onward is live; `late` means 15+ minutes late at arrival."""
    dataset = load_dataset(
        DataSettings(builtin="flights", target="late", time_column="time_hour", train_until="2013-03-01")
    )
    train, live = dataset.train, dataset.live
    assert 40_000 < len(train) < 60_000 and len(live) > 250_000
    assert train["time_hour"].max() < pd.Timestamp("2013-03-01", tz="UTC") <= live["time_hour"].min()
    assert {0, 1} == set(train["late"].unique())
    assert 0.15 < train["late"].mean() < 0.35
    assert {"carrier", "origin", "dest", "temp", "distance"} <= set(train.columns)
    assert "arr_delay" not in train.columns and "dep_delay" not in train.columns


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_user_files_load_in_time_order(tmp_path: Path, suffix: str) -> None:
    """CSV and Parquet both load; rows come back sorted by the time column."""
    frame = make_loans(100).sample(frac=1.0, random_state=1)
    path = tmp_path / f"loans{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    dataset = load_dataset(DataSettings(path=path, target="default", time_column="applied_at"))
    assert len(dataset.train) == 100 and dataset.live.empty
    assert dataset.train["applied_at"].is_monotonic_increasing


def test_unusable_files_raise_data_errors_naming_the_file(tmp_path: Path) -> None:
    """A missing file, a broken Parquet file and a missing target each say what is wrong."""
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet"):
        read_table(broken)
    good = tmp_path / "x.csv"
    make_loans(20).to_csv(good, index=False)
    with pytest.raises(DataError, match="target column 'y'"):
        load_dataset(DataSettings(path=good, target="y"))
    with pytest.raises(DataError, match=r"needs data\.time_column"):
        load_dataset(DataSettings(path=good, target="default", train_until="2024-01-02"))
