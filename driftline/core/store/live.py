"""The live traffic: logged predictions, the late labels sent for them, and the samples of a window checks read.

The service writes here on every answered row and the monitor reads here on every check, so the reads are built
to cost the same however many rows are logged: a window is a range of ids, and a check reads a random sample of
it by id alone, decoding JSON only for the rows picked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from driftline.core.store.bulk import copies, copy_predictions
from driftline.core.store.engine import OnEngine, conflict_insert
from driftline.core.store.rows import LabelledRow, Payload, Picked, SampledRow
from driftline.core.store.tables import feedback, predictions

_PROBE_SHARE = 20  # a window's labels are probed row by row while it spans at most 1/20 of the labels (see _labelled)

# a fixed scrambled order of prediction ids: multiplicative hashing by the golden ratio on 31 bits, which spreads
# any run of ids evenly over the range; the product stays below 2^62, inside 64-bit integers in SQLite and PostgreSQL
_SCRAMBLED = ((sa.cast(predictions.c.id, sa.BigInteger) % 2147483648) * 1327217885) % 2147483648


class LiveTraffic(OnEngine):
    """Prediction records and their labels as they arrive, and the windows of them the monitor checks."""

    def insert_predictions(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Write prediction records; one already written (a retry after a commit whose answer was lost) is skipped.
        On PostgreSQL through psycopg the batch goes by COPY (`bulk.py`)."""
        if records:
            with self.engine.begin() as conn:
                if copies(conn):
                    copy_predictions(conn, records)
                    return
                skipping = conflict_insert(conn, predictions).on_conflict_do_nothing(index_elements=["request_id"])
                conn.execute(skipping, [dict(r) for r in records])

    def count_predictions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())

    def known_request_ids(self, request_ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(request_ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    conn.execute(
                        sa.select(predictions.c.request_id).where(predictions.c.request_id.in_(chunk))
                    ).scalars()
                )
        return found

    def record_feedback(self, labels: Mapping[str, Any]) -> int:
        """Store late labels by request id; a second label for the same request replaces the first."""
        if not labels:
            return 0
        now = time.time()
        rows = [{"request_id": rid, "label": label, "received_at": now} for rid, label in labels.items()]
        with self.engine.begin() as conn:
            insert = conflict_insert(conn, feedback)
            statement = insert.on_conflict_do_update(
                index_elements=[feedback.c.request_id],
                set_={"label": insert.excluded.label, "received_at": insert.excluded.received_at},
            )
            conn.execute(statement, rows)
        return len(rows)

    def window_ids(self, *, version: int, rows: int | None = None, since: float | None = None) -> tuple[int, int, int]:
        """(first id, last id, row count) of `version`'s window: its last `rows` rows, or those since `since`."""
        where = [predictions.c.model_version == version]
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(predictions.c.id)).where(*where)).scalar()
            if last is None:
                return 0, 0, 0
            if since is not None:
                where.append(predictions.c.created_at >= since)
                first = conn.execute(sa.select(sa.func.min(predictions.c.id)).where(*where)).scalar()
            else:
                nth = (
                    sa.select(predictions.c.id)
                    .where(*where)
                    .order_by(predictions.c.id.desc())
                    .offset(max((rows or 1) - 1, 0))
                    .limit(1)
                )
                first = conn.execute(nth).scalar()
                if first is not None:
                    # the version's rows from its `rows`-th newest on are exactly that many: no count to scan for
                    return int(first), int(last), max(rows or 1, 1)
                first = conn.execute(sa.select(sa.func.min(predictions.c.id)).where(*where)).scalar()
            if first is None:
                return 0, 0, 0
            count = conn.execute(
                sa.select(sa.func.count()).where(*where, predictions.c.id >= first, predictions.c.id <= last)
            ).scalar_one()
        return int(first), int(last), int(count)

    def window_rows(
        self,
        *,
        version: int,
        first: int,
        last: int,
        limit: int,
        labelled_only: bool = False,
        with_features: bool = True,
    ) -> list[SampledRow]:
        """Up to `limit` rows of a window picked at random (see `window_sample`), each with its request id, time,
        label when one was sent (else None), output, and features unless `with_features` is False."""
        picked, payloads = self.window_sample(
            version=version,
            first=first,
            last=last,
            limit=limit,
            labelled_only=labelled_only,
            with_features=with_features,
        )
        return [
            {"request_id": request_id, "created_at": at, "label": label, **payloads[row_id]}
            for row_id, request_id, at, label in zip(*picked, strict=True)
            if row_id in payloads  # a row gone between the two reads is left out
        ]

    def window_sample(
        self,
        *,
        version: int,
        first: int,
        last: int,
        limit: int,
        labelled_only: bool = False,
        with_features: bool = True,
        known: Container[int] = (),
    ) -> tuple[Picked, dict[int, Payload]]:
        """Up to `limit` rows of a window picked at random, in id order, with their label when one was sent; and the
        decoded output and features (without features when `with_features` is False: decoding them is most of a
        read's cost) of those picked rows whose id is not in `known`, by id.

        The pick runs on ids alone (the (model_version, id) index), so only the picked rows' JSON is read. It is
        random but repeatable: ids are ordered by a fixed hash, so checking the same window twice compares the same
        rows, and a window that slides on keeps most of the sampled rows it still holds. A caller that keeps the
        payloads it got (a logged prediction never changes; its label is read every time) passes their ids as
        `known` and reads only the rows new to its sample.
        """
        in_window = [predictions.c.model_version == version, predictions.c.id >= first, predictions.c.id <= last]
        payload = [predictions.c.output] + ([predictions.c.features] if with_features else [])
        texts: list[Sequence[Any]] = []
        with self.engine.connect() as conn:
            source = _labelled(conn, last - first + 1) if labelled_only else predictions
            chosen = (
                sa.select(predictions.c.id)
                .select_from(source)
                .where(*in_window)
                .order_by(_SCRAMBLED, predictions.c.id)
                .limit(limit)
            ).subquery()
            # JSON comes back as text and is decoded after the read, so the read lasts only as long as fetching the
            # rows, even in a monitor at low priority that the scheduler keeps waiting
            heads = (
                sa.select(
                    predictions.c.id,
                    predictions.c.request_id,
                    predictions.c.created_at,
                    sa.cast(feedback.c.label, sa.Text),
                )
                .select_from(
                    predictions.join(chosen, chosen.c.id == predictions.c.id).outerjoin(
                        feedback, feedback.c.request_id == predictions.c.request_id
                    )
                )
                .order_by(predictions.c.id)
            )
            fetched = conn.execute(heads).all()
            missing = [row[0] for row in fetched if row[0] not in known]
            for start in range(0, len(missing), 2000):
                texts += conn.execute(
                    sa.select(predictions.c.id, *(sa.cast(column, sa.Text) for column in payload)).where(
                        predictions.c.id.in_(missing[start : start + 2000])
                    )
                ).all()
        ids, request_ids, created_at, labels = ([row[i] for row in fetched] for i in range(4))
        picked = Picked(ids, request_ids, created_at, _decode_column(labels))
        return picked, _decode_payloads(texts, [column.name for column in payload])

    def count_labelled(self, *, version: int, first: int, last: int) -> int:
        with self.engine.connect() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(_labelled(conn, last - first + 1))
                .where(predictions.c.model_version == version, predictions.c.id >= first, predictions.c.id <= last)
            )
            return int(conn.execute(query).scalar_one())

    def recent_labelled(self, limit: int) -> list[LabelledRow]:
        """The most recent `limit` predictions that got a label, oldest first, whichever version served them."""
        query = (
            sa.select(
                predictions.c.id,
                predictions.c.created_at,
                predictions.c.model_version,
                predictions.c.features,
                feedback.c.label,
            )
            .select_from(predictions.join(feedback, feedback.c.request_id == predictions.c.request_id))
            .order_by(predictions.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [cast(LabelledRow, dict(row._mapping)) for row in conn.execute(query)]
        return rows[::-1]

    def count_feedback(self) -> int:
        """Labels received so far (each belongs to a logged prediction)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one())


def _labelled(conn: Connection, window_span: int) -> sa.FromClause:
    """Predictions joined with their labels, for reads of the labelled rows of a window of `window_span` ids.

    PostgreSQL answers a plain join by hashing the whole labels table once a window holds a few thousand rows: on a
    10M-row log with 1M labels, 0.2-0.3 s even for a 5,000-row window. Probing the labels' primary key once per row
    of the window (a LATERAL subquery) costs what the window holds instead, about 4-7 µs a row there, so it is
    used while the window spans at most a twentieth of the labels (the planner's row estimate), where it is the
    cheaper; wider windows keep the hash. The probe's cost estimate sets off JIT compilation, which costs more than
    the query, so JIT is off for the rest of that read's transaction. SQLite has no LATERAL and probes by itself.
    """
    plain = predictions.join(feedback, feedback.c.request_id == predictions.c.request_id)
    if conn.dialect.name != "postgresql":
        return plain
    labels = conn.execute(
        sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"), {"name": feedback.name}
    ).scalar()
    if labels is None or window_span * _PROBE_SHARE > labels:  # never analysed: -1
        return plain
    conn.execute(sa.text("SET LOCAL jit = off"))
    probe = sa.select(feedback.c.request_id).where(feedback.c.request_id == predictions.c.request_id).limit(1)
    return predictions.join(probe.lateral("label"), sa.true())


def _decode_column(texts: Sequence[str | None]) -> list[Any]:
    """JSON texts (None for SQL NULL) decoded in one call, as one array, instead of one call per value."""
    return list(json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]"))


def _decode_payloads(rows: Sequence[Sequence[Any]], names: list[str]) -> dict[int, Payload]:
    """(id, JSON text, ...) rows as {id: {name: decoded value}}."""
    if not rows:
        return {}
    ids, *texts = zip(*rows, strict=True)
    columns = [_decode_column(column) for column in texts]
    return {
        row_id: cast(Payload, dict(zip(names, values, strict=True)))
        for row_id, *values in zip(ids, *columns, strict=True)
    }
