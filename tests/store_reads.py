"""Reads of the store that only tests make: a test checks what was written with a small SQL query of its own, so
the store keeps no methods that nothing but tests calls."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from driftline.core import Store
from driftline.core.store import feedback, leases, predictions


def recent_predictions(store: Store, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` logged prediction rows, latest first."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(predictions).order_by(predictions.c.id.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in rows]


def labels_for(store: Store, request_ids: Iterable[str]) -> dict[str, Any]:
    """The label stored for each of `request_ids` that has one."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(feedback).where(feedback.c.request_id.in_(list(request_ids)))).all()
    return {row.request_id: row.label for row in rows}


def lease_holder(store: Store, name: str, now: float) -> str | None:
    """Who holds the lease `name` at `now`; None when nobody does or it expired."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
    return row.holder if row is not None and row.expires_at >= now else None
