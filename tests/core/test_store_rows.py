"""The store's row types name exactly the columns of the tables they are read from."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from driftline.core.store import (
    CheckRow,
    PromotionRow,
    RunRow,
    ShadowRow,
    VersionRow,
    checks,
    model_versions,
    promotions,
    shadows,
    training_runs,
)


@pytest.mark.parametrize(
    ("row", "table"),
    [
        (VersionRow, model_versions),
        (PromotionRow, promotions),
        (RunRow, training_runs),
        (CheckRow, checks),
        (ShadowRow, shadows),
    ],
)
def test_a_row_type_has_one_key_per_column_of_its_table(row: Any, table: sa.Table) -> None:
    """A column added to a table without its row type (or the reverse) is caught here, not by a reader's KeyError."""
    assert set(table.columns.keys()) == row.__required_keys__ | row.__optional_keys__
