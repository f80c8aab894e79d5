"""Prediction batches as the log writer sends them, on SQLite and on PostgreSQL (where they go by COPY)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from driftline.core import Store
from driftline.core.store import predictions
from tests.core.test_store import logged


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store(store_url)
    yield store
    store.dispose()


def stored(store: Store) -> list[tuple[Any, ...]]:
    columns = [predictions.c[name] for name in ("request_id", "created_at", "model_version", "features", "output")]
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(predictions.c.id))]


def test_a_batch_is_logged_in_the_order_it_came(store: Store) -> None:
    """Ids follow the records' order, so a window (a range of ids) holds the rows in arrival order."""
    records = logged(50)[::-1]
    store.insert_predictions(records)
    assert [r["request_id"] for r in records] == [row[0] for row in stored(store)]


def test_every_field_reads_back_as_written(store: Store) -> None:
    """Times, versions and JSON features (missing values, quotes, tabs, non-ASCII text) come back unchanged."""
    record = {
        "request_id": "r-1",
        "created_at": 1733241600.123456,
        "model_version": 3,
        "features": {"carrier": 'U\t"A"\\', "origin": "Zürich\n", "temp": None, "distance": 1.5},
        "output": {"prediction": 1, "probability_1": 0.25},
        "latency_ms": 2.5,
    }
    store.insert_predictions([record])
    assert [("r-1", 1733241600.123456, 3, record["features"], record["output"])] == stored(store)


def test_batches_after_a_refused_one_are_logged(store: Store) -> None:
    """A batch the database refuses (a record without its version) writes nothing, and the next batch is logged."""
    broken = [{**logged(1)[0], "request_id": "bad", "model_version": None}]
    with pytest.raises(sa.exc.IntegrityError):
        store.insert_predictions(broken)
    store.insert_predictions(logged(2))
    assert ["r0", "r1"] == [row[0] for row in stored(store)]
