from __future__ import annotations

import pytest

from driftline.core import prediction_records


def test_prediction_records_pair_each_id_with_its_row_and_output() -> None:
    """Every record carries the shared version, time and latency with its own id, features and output."""
    records = prediction_records(
        ["a", "b"],
        [{"x": 1}, {"x": 2}],
        [{"prediction": 0}, {"prediction": 1}],
        model_version=3,
        created_at=10.0,
        latency_ms=2.5,
    )
    assert [("a", {"x": 1}, {"prediction": 0}), ("b", {"x": 2}, {"prediction": 1})] == [
        (r["request_id"], r["features"], r["output"]) for r in records
    ]
    assert {(3, 10.0, 2.5)} == {(r["model_version"], r["created_at"], r["latency_ms"]) for r in records}


def test_prediction_records_refuse_sequences_of_different_lengths() -> None:
    """A missing output is an error, not a silently shorter log."""
    with pytest.raises(ValueError):
        prediction_records(["a", "b"], [{"x": 1}], [{}], model_version=1, created_at=0.0, latency_ms=0.0)
