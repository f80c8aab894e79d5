"""The labelled rows of a window, read by a join on wide windows and, on PostgreSQL, by a probe per row on narrow
ones: both give the same rows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from driftline.core import Store
from tests.core.test_store import logged


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """100 logged rows (ids 1-100), every other one labelled, with the planner's statistics up to date."""
    store = Store(store_url)
    store.insert_predictions(logged(100))
    store.record_feedback({f"r{i}": i % 3 for i in range(0, 100, 2)})
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    yield store
    store.dispose()


@pytest.mark.parametrize("first", [1, 41, 97])
def test_a_narrow_window_counts_its_labelled_rows(store: Store, first: int) -> None:
    """A two-row window (probed row by row on PostgreSQL) holds one labelled row."""
    assert 1 == store.count_labelled(version=1, first=first, last=first + 1)


def test_a_narrow_window_reads_its_labelled_rows_with_their_labels(store: Store) -> None:
    """Rows 41 and 42 (r40 and r41): only r40 has a label, 40 % 3."""
    rows = store.window_rows(version=1, first=41, last=42, limit=10, labelled_only=True, with_features=False)
    assert [("r40", 1)] == [(row["request_id"], row["label"]) for row in rows]


def test_a_wide_window_counts_its_labelled_rows(store: Store) -> None:
    """The whole log as a window (joined, on either database) holds its 50 labelled rows."""
    assert 50 == store.count_labelled(version=1, first=1, last=100)
