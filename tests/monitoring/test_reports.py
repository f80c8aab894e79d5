from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.core import PREDICTION_COLUMN, FeatureSchema
from monitoring import ReportArchive, compare
from monitoring.drift import Compared, DriftResult
from monitoring.reports import ReportError, read_compared
from tests.factories import make_loans

SCHEMA = FeatureSchema(("income", "age", "debt_ratio"), ("purpose", "region"), "default", "classification", (0, 1))


def frame(rows: int, seed: int, income_shift: float = 0.0) -> pd.DataFrame:
    data = SCHEMA.coerce(make_loans(rows, seed=seed, income_shift=income_shift))
    data[PREDICTION_COLUMN] = np.random.default_rng(seed).random(rows)
    return data


def check(reference: pd.DataFrame, seed: int) -> DriftResult:
    return compare(reference, frame(400, seed, income_shift=30), SCHEMA, drift_share=0.5)


def assert_same(read: Compared, written: Compared) -> None:
    pd.testing.assert_frame_equal(read.reference, written.reference.reset_index(drop=True))
    pd.testing.assert_frame_equal(read.current, written.current.reset_index(drop=True))
    assert (read.numeric, read.categorical, read.method, read.drift_share) == (
        written.numeric,
        written.categorical,
        written.method,
        written.drift_share,
    )


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_checks_against_one_reference_store_it_once_and_each_reads_back_whole(tmp_path: Path) -> None:
    """Every check of a version names one shared reference file; a check's own file holds its window only."""
    archive = ReportArchive(tmp_path, keep=5)
    reference = frame(1500, 1)
    results = [check(reference, seed) for seed in (2, 3, 4)]
    names = [archive.save(result, 1, time.time() + i) for i, result in enumerate(results)]
    [stored] = archive.references()
    for name, result in zip(names, results, strict=True):
        own = pq.read_table(tmp_path / f"{name}.parquet")
        assert own.num_rows == len(result.compared.current) == 400
        assert json.loads(own.schema.metadata[b"driftline.compared"])["reference"] == stored
        assert_same(read_compared(tmp_path / f"{name}.parquet"), result.compared)
    assert pq.read_table(tmp_path / stored).num_rows == 1500


def test_a_new_reference_is_stored_beside_the_old_one_and_the_old_goes_once_no_check_names_it(tmp_path: Path) -> None:
    archive = ReportArchive(tmp_path, keep=2)
    archive.save(check(frame(800, 1), 2), 1, time.time())
    [first] = archive.references()
    age(tmp_path / first, 3600)
    archive.save(check(frame(800, 5), 6), 2, time.time() + 1)  # a new version: the first is still needed
    assert first in archive.references() and len(archive.references()) == 2
    archive.save(check(frame(800, 5), 7), 2, time.time() + 2)  # the version 1 check is pruned here
    assert archive.list() == sorted(archive.list(), reverse=True) and len(archive.list()) == 2
    archive.save(check(frame(800, 8), 9), 3, time.time() + 3)  # the next new reference sweeps the unneeded old one
    assert first not in archive.references()
    for name in archive.list():
        read_compared(tmp_path / f"{name}.parquet")  # every kept check still has its reference


def test_a_recent_reference_no_check_names_yet_is_not_swept(tmp_path: Path) -> None:
    """Another writer may have stored it a moment ago for the check it is writing now."""
    archive = ReportArchive(tmp_path, keep=1)
    archive.save(check(frame(800, 1), 2), 1, time.time())
    [recent] = archive.references()
    archive.save(check(frame(800, 5), 6), 2, time.time() + 1)  # prunes the only check that named `recent`
    assert recent in archive.references()


def test_a_comparison_stored_with_both_samples_in_one_file_still_reads(tmp_path: Path) -> None:
    """Checks saved before references were shared kept both samples in the check's own file."""
    result = check(frame(800, 1), 2)
    compared = result.compared
    both = pd.concat(
        [
            compared.reference.assign(__compared_side__="reference"),
            compared.current.assign(__compared_side__="current"),
        ],
        ignore_index=True,
    )
    table = pa.Table.from_pandas(both, preserve_index=False)
    settings = {k: getattr(compared, k) for k in ("numeric", "categorical", "method", "drift_share")}
    table = table.replace_schema_metadata({**table.schema.metadata, b"driftline.compared": json.dumps(settings)})
    name = "check-20260101T000000000000Z-v1.html"
    pq.write_table(table, tmp_path / f"{name}.parquet")
    assert_same(read_compared(tmp_path / f"{name}.parquet"), compared)
    assert ReportArchive(tmp_path, keep=5).list() == [name]


def test_a_check_whose_reference_file_is_gone_is_a_report_error_naming_it(tmp_path: Path) -> None:
    archive = ReportArchive(tmp_path, keep=5)
    name = archive.save(check(frame(800, 1), 2), 1, time.time())
    [stored] = archive.references()
    (tmp_path / stored).unlink()
    with pytest.raises(ReportError, match=name):
        archive.get(name)
    assert not (tmp_path / name).exists() and archive.list() == [name]


def test_pruning_deletes_the_reports_taken_before_the_cut_off(tmp_path: Path) -> None:
    """Of reports of checks 40 days and 1 second ago, pruning at 30 days deletes the older only."""
    archive = ReportArchive(tmp_path, keep=5)
    reference = frame(800, 1)
    archive.save(check(reference, 2), 1, time.time() - 40 * 86_400)
    new = archive.save(check(reference, 3), 1, time.time() - 1)
    assert (1, [new]) == (archive.prune(time.time() - 30 * 86_400), archive.list())
