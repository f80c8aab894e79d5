"""Deleting what is past its keep time, in small batches, so the store stays bounded while the service writes to it.

Each batch picks at most `batch_rows` rows and deletes them in one short transaction, and the pruner pauses between
batches: a prediction write (SQLite's single writer, PostgreSQL's row and index locks) waits for one batch at most,
never for a whole pruning. What may go is decided by the planner (`planner.py`); the rows it protects, the current
drift window and the labelled rows a retrain reads, are excluded in the deleting statements themselves, so no batch
can take them whatever the cut-off times say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from driftline.core.store.engine import OnEngine
from driftline.core.store.tables import checks, feedback, model_versions, predictions, production, shadow_predictions

PRUNABLE_STATUSES = ("rejected", "archived")
"""Version statuses retention may delete; `registered` (never decided) and `production` are always kept."""

OnBatch = Callable[[str, int], None]
"""Called after each committed batch with the table and the rows it deleted there."""


def _ignore(_table: str, _rows: int) -> None:
    return None


@dataclass(frozen=True)
class Protected:
    """Logged predictions no pruning may delete, whatever their age."""

    window_from_id: int | None
    """Predictions with an id from this one on are in the production version's current drift window."""
    labelled_from_id: int | None
    """Labelled predictions with an id from this one on are the rows a retrain reads (`retrain.live_rows`)."""

    @property
    def labels_from_id(self) -> int | None:
        """Labels of predictions from this id on belong to protected rows (the window's or a retrain's)."""
        floors = [i for i in (self.window_from_id, self.labelled_from_id) if i is not None]
        return min(floors) if floors else None


class Pruning(OnEngine):
    """Batched deletes of old predictions (with their shadows' answers), labels, checks, and single deletes of
    versions retention lets go."""

    def nth_newest_labelled_id(self, n: int) -> int | None:
        """The id of the `n`-th newest labelled prediction; 0 when fewer are labelled (all of them count), None
        when none is."""
        labelled = predictions.join(feedback, feedback.c.request_id == predictions.c.request_id)
        newest = sa.select(predictions.c.id).select_from(labelled).order_by(predictions.c.id.desc())
        with self.engine.connect() as conn:
            found = conn.execute(newest.offset(n - 1).limit(1)).scalar()
            if found is not None:
                return int(found)
            return 0 if conn.execute(newest.limit(1)).first() is not None else None

    def nth_newest_prediction_id(self, n: int) -> int | None:
        """The id of the `n`-th newest logged prediction; None when fewer are logged."""
        query = sa.select(predictions.c.id).order_by(predictions.c.id.desc()).offset(n - 1).limit(1)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def prune_predictions(
        self,
        *,
        before: float,
        below_id: int | None,
        protected: Protected,
        batch_rows: int,
        pause_seconds: float,
        on_batch: OnBatch = _ignore,
    ) -> dict[str, int]:
        """Delete predictions logged before `before` (or with an id below `below_id`, a row cap), with their labels
        and what a shadow answered to them, except the protected ones; returns the rows deleted per table."""
        old = predictions.c.created_at < before
        if below_id is not None:
            old = sa.or_(old, predictions.c.id < below_id)
        where: list[sa.ColumnElement[bool]] = [old]
        if protected.window_from_id is not None:
            where.append(predictions.c.id < protected.window_from_id)
        if protected.labelled_from_id is not None:
            labelled = sa.exists().where(feedback.c.request_id == predictions.c.request_id)
            where.append(sa.or_(predictions.c.id < protected.labelled_from_id, ~labelled))

        def pick(cursor: Row[Any] | None) -> sa.Select[Any]:
            after = [] if cursor is None else [predictions.c.id > cursor.id]
            return (
                sa.select(predictions.c.id, predictions.c.request_id).where(*where, *after).order_by(predictions.c.id)
            )

        def delete(conn: Connection, rows: Sequence[Row[Any]]) -> dict[str, int]:
            request_ids = [r.request_id for r in rows]
            labels = conn.execute(feedback.delete().where(feedback.c.request_id.in_(request_ids)))
            shadowed = conn.execute(shadow_predictions.delete().where(shadow_predictions.c.request_id.in_(request_ids)))
            logged = conn.execute(predictions.delete().where(predictions.c.id.in_([r.id for r in rows])))
            return {
                "predictions": logged.rowcount,
                "feedback": labels.rowcount,
                "shadow_predictions": shadowed.rowcount,
            }

        return self._in_batches(pick, delete, batch_rows, pause_seconds, on_batch)

    def prune_labels(
        self,
        *,
        before: float,
        protected: Protected,
        batch_rows: int,
        pause_seconds: float,
        on_batch: OnBatch = _ignore,
    ) -> dict[str, int]:
        """Delete labels received before `before`, except those of protected predictions; the predictions stay."""
        where: list[sa.ColumnElement[bool]] = [feedback.c.received_at < before]
        floor = protected.labels_from_id
        if floor is not None:
            kept = sa.exists().where(predictions.c.request_id == feedback.c.request_id, predictions.c.id >= floor)
            where.append(~kept)

        def pick(cursor: Row[Any] | None) -> sa.Select[Any]:
            # many labels share one arrival time (one /feedback call), so the cursor is the pair
            key = sa.tuple_(feedback.c.received_at, feedback.c.request_id)
            after = [] if cursor is None else [key > sa.tuple_(cursor.received_at, cursor.request_id)]
            return (
                sa.select(feedback.c.received_at, feedback.c.request_id)
                .where(*where, *after)
                .order_by(feedback.c.received_at, feedback.c.request_id)
            )

        def delete(conn: Connection, rows: Sequence[Row[Any]]) -> dict[str, int]:
            done = conn.execute(feedback.delete().where(feedback.c.request_id.in_([r.request_id for r in rows])))
            return {"feedback": done.rowcount}

        return self._in_batches(pick, delete, batch_rows, pause_seconds, on_batch)

    def prune_unmatched_shadow_predictions(
        self, *, before: float, batch_rows: int, pause_seconds: float, on_batch: OnBatch = _ignore
    ) -> dict[str, int]:
        """Delete a shadow's answers recorded before `before` whose champion prediction is not in the log (dropped
        by a full queue, or pruned before its shadow's answer was written): no comparison can ever read them."""
        logged = sa.exists().where(predictions.c.request_id == shadow_predictions.c.request_id)

        def pick(cursor: Row[Any] | None) -> sa.Select[Any]:
            after = [] if cursor is None else [shadow_predictions.c.id > cursor.id]
            return (
                sa.select(shadow_predictions.c.id)
                .where(shadow_predictions.c.created_at < before, ~logged, *after)
                .order_by(shadow_predictions.c.id)
            )

        def delete(conn: Connection, rows: Sequence[Row[Any]]) -> dict[str, int]:
            done = conn.execute(shadow_predictions.delete().where(shadow_predictions.c.id.in_([r.id for r in rows])))
            return {"shadow_predictions": done.rowcount}

        return self._in_batches(pick, delete, batch_rows, pause_seconds, on_batch)

    def prune_checks(
        self, *, before: float, batch_rows: int, pause_seconds: float, on_batch: OnBatch = _ignore
    ) -> dict[str, int]:
        """Delete drift checks recorded before `before`, except the latest, which `driftline status` shows."""
        with self.engine.connect() as conn:
            latest = conn.execute(sa.select(sa.func.max(checks.c.id))).scalar()
        if latest is None:
            return {"checks": 0}

        def pick(cursor: Row[Any] | None) -> sa.Select[Any]:
            after = [] if cursor is None else [checks.c.id > cursor.id]
            return (
                sa.select(checks.c.id)
                .where(checks.c.checked_at < before, checks.c.id < latest, *after)
                .order_by(checks.c.id)
            )

        def delete(conn: Connection, rows: Sequence[Row[Any]]) -> dict[str, int]:
            done = conn.execute(checks.delete().where(checks.c.id.in_([r.id for r in rows])))
            return {"checks": done.rowcount}

        return self._in_batches(pick, delete, batch_rows, pause_seconds, on_batch)

    def reclaim(self, tables: Sequence[str]) -> None:
        """On PostgreSQL, VACUUM the named tables of the store (not FULL: no lock that stops reads or writes), so
        the next writes reuse the space of the deleted rows instead of waiting for autovacuum's thresholds; SQLite
        reuses freed pages by itself."""
        known = {table.name for table in (predictions, feedback, shadow_predictions, checks)}
        for name in tables:
            if name not in known:
                raise ValueError(f"{name!r} is not a table retention prunes")
        if self.engine.dialect.name != "postgresql":
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in tables:
                conn.execute(sa.text(f"VACUUM {name}"))  # a name checked against the store's own tables above

    def delete_version(self, version: int) -> bool:
        """Delete a rejected or archived version's row; False (nothing deleted) if it is in production or has any
        other status by now. The caller deletes its files afterwards, so a version never outlives its files."""
        in_production = sa.select(production.c.version).where(production.c.slot == 1).scalar_subquery()
        with self.engine.begin() as conn:
            done = conn.execute(
                model_versions.delete().where(
                    model_versions.c.version == version,
                    model_versions.c.status.in_(PRUNABLE_STATUSES),
                    sa.func.coalesce(in_production, -1) != version,
                )
            )
        return done.rowcount == 1

    def _in_batches(
        self,
        pick: Callable[[Row[Any] | None], sa.Select[Any]],
        delete: Callable[[Connection, Sequence[Row[Any]]], Mapping[str, int]],
        batch_rows: int,
        pause_seconds: float,
        on_batch: OnBatch,
    ) -> dict[str, int]:
        """Pick up to `batch_rows` rows past the last one picked and delete them, one transaction per batch,
        until a batch comes back short; the totals per table.

        After each batch it pauses `pause_seconds`, or as long as the batch took if that was longer: a pruning
        never keeps the database busy more than half the time, however loaded the machine is."""
        totals: dict[str, int] = {}
        cursor: Row[Any] | None = None
        while True:
            started = time.monotonic()
            with self.engine.begin() as conn:
                rows = conn.execute(pick(cursor).limit(batch_rows)).all()
                deleted = delete(conn, rows) if rows else {}
            for table, count in deleted.items():
                totals[table] = totals.get(table, 0) + count
                on_batch(table, count)
            if len(rows) < batch_rows:
                return totals
            cursor = rows[-1]
            time.sleep(max(pause_seconds, time.monotonic() - started))
