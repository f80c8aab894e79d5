"""The store: every record Driftline keeps, in one SQL database (SQLite file by default, PostgreSQL by URL).

SQLAlchemy Core, no ORM: model versions, the production pointer and its history, training runs, logged
predictions and late labels. Promotion changes the pointer and writes its history row in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Container, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from driftline.core.errors import PromotionRefused, UnknownVersion

metadata = sa.MetaData()

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # registered | production | archived | rejected
    sa.Column("status_reason", sa.Text),
    sa.Column("artifact_dir", sa.Text, nullable=False),  # relative to the model store folder
    sa.Column("artifact_tag", sa.String(300), nullable=False),  # the BentoML model tag
    sa.Column("hashes", sa.JSON, nullable=False),  # file name -> sha256
    sa.Column("schema", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),  # params, metrics, baseline, fingerprint, rows, duration …
)

production = sa.Table(
    "production",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True),  # always 1: one production pointer per store
    sa.Column("version", sa.Integer, sa.ForeignKey("model_versions.version"), nullable=False),
    sa.Column("promotion_id", sa.Integer, nullable=False),
)

promotions = sa.Table(
    "promotions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("previous_version", sa.Integer),
    sa.Column("kind", sa.String(20), nullable=False),  # initial | auto | manual | rollback
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
)

training_runs = sa.Table(
    "training_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running | succeeded | failed
    sa.Column("version", sa.Integer),
    sa.Column("message", sa.Text),
    sa.Column("details", sa.JSON),
)

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("output", sa.JSON, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Index("ix_predictions_version_id", "model_version", "id"),
)

checks = sa.Table(
    "checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("checked_at", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("drift_share", sa.Float),
    sa.Column("summary", sa.JSON, nullable=False),
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

# a fixed scrambled order of prediction ids: multiplicative hashing by the golden ratio on 31 bits, which spreads
# any run of ids evenly over the range; the product stays below 2^62, inside 64-bit integers in SQLite and PostgreSQL
_SCRAMBLED = ((sa.cast(predictions.c.id, sa.BigInteger) % 2147483648) * 1327217885) % 2147483648


class Picked(NamedTuple):
    """The logged predictions picked for a window's sample, column by column, in id order; a label is None until
    one is sent."""

    ids: list[int]
    request_ids: list[str]
    created_at: list[float]
    labels: list[Any]


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def create_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL and a busy timeout so several workers can write to one file."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @sa.event.listens_for(engine, "handle_error")
        def _drop_read_only_connections(context: Any) -> None:
            # SQLite opens a file it cannot write read-only without a word; such a connection must not go back to
            # the pool, or writes keep failing on it after the file is writable again
            if "readonly database" in str(context.original_exception):
                context.is_disconnect = True

        return engine
    # a store host that stops answering must fail a connect in seconds, not after the OS's TCP timeout
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def _insert_ignoring_duplicates(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(predictions).on_conflict_do_nothing(index_elements=["request_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(predictions).on_conflict_do_nothing(index_elements=["request_id"])


class Store:
    """All reads and writes of Driftline's records; safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # model versions -------------------------------------------------------------------------------------------

    def add_version(
        self,
        *,
        name: str,
        artifact_dir: str,
        artifact_tag: str,
        hashes: Mapping[str, str],
        schema: Mapping[str, Any],
        details: Mapping[str, Any],
        status: str = "registered",
        status_reason: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                model_versions.insert().values(
                    name=name,
                    created_at=time.time(),
                    status=status,
                    status_reason=status_reason,
                    artifact_dir=artifact_dir,
                    artifact_tag=artifact_tag,
                    hashes=dict(hashes),
                    schema=dict(schema),
                    details=dict(details),
                )
            )
            return _new_id(result)

    def get_version(self, version: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(model_versions).where(model_versions.c.version == version)).first()
        if row is None:
            raise UnknownVersion(version)
        return dict(row._mapping)

    def list_versions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(model_versions).order_by(model_versions.c.version)).all()
        return [dict(row._mapping) for row in rows]

    def set_version_status(self, version: int, status: str, reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            updated = conn.execute(
                model_versions.update()
                .where(model_versions.c.version == version)
                .values(status=status, status_reason=reason)
            )
        if updated.rowcount == 0:
            raise UnknownVersion(version)

    # production pointer and its history -------------------------------------------------------------------

    def production_version(self) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(production.c.version).where(production.c.slot == 1)).scalar()

    def promote(self, version: int, *, kind: str, reason: str, evidence: Mapping[str, Any] | None = None) -> int:
        """Point production at `version` and record why, in one transaction; returns the promotion id."""
        with self.engine.begin() as conn:
            if (
                conn.execute(sa.select(model_versions.c.version).where(model_versions.c.version == version)).first()
                is None
            ):
                raise UnknownVersion(version)
            previous = self._locked_pointer(conn)
            if previous == version:
                raise PromotionRefused(f"version {version} is already in production")
            promotion_id = _new_id(
                conn.execute(
                    promotions.insert().values(
                        at=time.time(),
                        version=version,
                        previous_version=previous,
                        kind=kind,
                        reason=reason,
                        evidence=dict(evidence or {}),
                    )
                )
            )
            if previous is None:
                conn.execute(production.insert().values(slot=1, version=version, promotion_id=promotion_id))
            else:
                conn.execute(
                    production.update().where(production.c.slot == 1).values(version=version, promotion_id=promotion_id)
                )
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.version == previous)
                    .values(status="archived", status_reason=f"replaced by version {version} ({kind})")
                )
            conn.execute(
                model_versions.update()
                .where(model_versions.c.version == version)
                .values(status="production", status_reason=reason)
            )
            return promotion_id

    def _locked_pointer(self, conn: Connection) -> int | None:
        query = sa.select(production.c.version).where(production.c.slot == 1)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).scalar()

    def promotion_history(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(promotions).order_by(promotions.c.id)).all()
        return [dict(row._mapping) for row in rows]

    def current_promotion(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(promotions).join(production, production.c.promotion_id == promotions.c.id)
            ).first()
        return dict(row._mapping) if row else None

    # training runs -------------------------------------------------------------------------------------------

    def start_run(self, trigger: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                training_runs.insert().values(started_at=time.time(), trigger=trigger, status="running")
            )
            return _new_id(result)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        version: int | None = None,
        message: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                training_runs.update()
                .where(training_runs.c.id == run_id)
                .values(
                    finished_at=time.time(),
                    status=status,
                    version=version,
                    message=message,
                    details=dict(details or {}),
                )
            )

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(training_runs).order_by(training_runs.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

    # predictions and feedback -----------------------------------------------------------------------------

    def insert_predictions(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Write prediction records; one already written (a retry after a commit whose answer was lost) is skipped."""
        if records:
            with self.engine.begin() as conn:
                conn.execute(_insert_ignoring_duplicates(conn.dialect.name), [dict(r) for r in records])

    def count_predictions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one())

    def recent_predictions(self, limit: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(predictions).order_by(predictions.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

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
            dialect = conn.dialect.name
            insert: Any = postgresql.insert(feedback) if dialect == "postgresql" else sqlite.insert(feedback)
            statement = insert.on_conflict_do_update(
                index_elements=[feedback.c.request_id],
                set_={"label": insert.excluded.label, "received_at": insert.excluded.received_at},
            )
            conn.execute(statement, rows)
        return len(rows)

    def labels_for(self, request_ids: Iterable[str]) -> dict[str, Any]:
        wanted = list(request_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(feedback).where(feedback.c.request_id.in_(wanted))).all()
        return {row.request_id: row.label for row in rows}

    # live windows for the monitor -------------------------------------------------------------------------------

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
                if first is None:
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
    ) -> list[dict[str, Any]]:
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
    ) -> tuple[Picked, dict[int, dict[str, Any]]]:
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
        source: sa.FromClause = predictions
        if labelled_only:
            source = predictions.join(feedback, feedback.c.request_id == predictions.c.request_id)
        chosen = (
            sa.select(predictions.c.id)
            .select_from(source)
            .where(*in_window)
            .order_by(_SCRAMBLED, predictions.c.id)
            .limit(limit)
        ).subquery()
        # JSON comes back as text and is decoded after the read, so the read lasts only as long as fetching the rows,
        # even in a monitor at low priority that the scheduler keeps waiting
        heads = (
            sa.select(
                predictions.c.id, predictions.c.request_id, predictions.c.created_at, sa.cast(feedback.c.label, sa.Text)
            )
            .select_from(
                predictions.join(chosen, chosen.c.id == predictions.c.id).outerjoin(
                    feedback, feedback.c.request_id == predictions.c.request_id
                )
            )
            .order_by(predictions.c.id)
        )
        payload = [predictions.c.output] + ([predictions.c.features] if with_features else [])
        texts: list[Sequence[Any]] = []
        with self.engine.connect() as conn:
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
        query = (
            sa.select(sa.func.count())
            .select_from(predictions.join(feedback, feedback.c.request_id == predictions.c.request_id))
            .where(predictions.c.model_version == version, predictions.c.id >= first, predictions.c.id <= last)
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def recent_labelled(self, limit: int) -> list[dict[str, Any]]:
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
            rows = [dict(row._mapping) for row in conn.execute(query)]
        return rows[::-1]

    def count_feedback(self) -> int:
        """Labels received so far (each belongs to a logged prediction)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one())

    # leases: one acting monitor among replicas -------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl_seconds: float, now: float | None = None) -> bool:
        """Take or renew the lease `name` for `holder`; False while another holder's lease has not expired."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            taken = conn.execute(
                leases.update()
                .where(leases.c.name == name, sa.or_(leases.c.holder == holder, leases.c.expires_at < now))
                .values(holder=holder, expires_at=now + ttl_seconds)
            ).rowcount
            if taken:
                return True
            if conn.execute(sa.select(leases.c.name).where(leases.c.name == name)).first() is not None:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl_seconds))
        except sa.exc.IntegrityError:
            return False  # another replica inserted it first
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(leases.update().where(leases.c.name == name, leases.c.holder == holder).values(expires_at=0.0))

    def lease_holder(self, name: str, now: float | None = None) -> str | None:
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
        return row.holder if row is not None and row.expires_at >= now else None

    # drift checks and scheduled jobs, for `driftline status` -------------------------------------------------

    def record_check(
        self,
        *,
        checked_at: float,
        model_version: int,
        outcome: str,
        drift_share: float | None,
        summary: Mapping[str, Any],
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                checks.insert().values(
                    checked_at=checked_at,
                    model_version=model_version,
                    outcome=outcome,
                    drift_share=drift_share,
                    summary=dict(summary),
                )
            )

    def last_checks(self, limit: int = 5) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(checks).order_by(checks.c.id.desc()).limit(limit)).all()
        return [dict(row._mapping) for row in rows]

    def scheduled_runs(self) -> dict[str, float | None]:
        """Next run time of each job in the monitor's APScheduler job store (empty before a monitor ran)."""
        if not sa.inspect(self.engine).has_table("apscheduler_jobs"):
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, next_run_time FROM apscheduler_jobs ORDER BY id")).all()
        return {row[0]: row[1] for row in rows}


def _decode_column(texts: Sequence[str | None]) -> list[Any]:
    """JSON texts (None for SQL NULL) decoded in one call, as one array, instead of one call per value."""
    return list(json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]"))


def _decode_payloads(rows: Sequence[Sequence[Any]], names: list[str]) -> dict[int, dict[str, Any]]:
    """(id, JSON text, ...) rows as {id: {name: decoded value}}."""
    if not rows:
        return {}
    ids, *texts = zip(*rows, strict=True)
    columns = [_decode_column(column) for column in texts]
    return {row_id: dict(zip(names, values, strict=True)) for row_id, *values in zip(ids, *columns, strict=True)}
