"""The store's schema revisions (Alembic) and what a process does with them when it opens the store.

A process that opens the store (`Store(url)`) creates the schema at the newest revision in a database that has
none of Driftline's tables, so the embedded defaults need no extra command. It goes on at once on a schema at the
newest revision. A store made before Driftline had migrations (its tables, no `alembic_version`) is the first
revision, `BASELINE`, once its tables are checked against that revision: it is stamped so. Any other schema is
refused, naming `driftline db upgrade`: only that command changes a schema that holds data, so an upgrade happens
when the operator chose it (after a backup), never because some replica restarted.

Every change is made in one transaction under a lock that only one process at a time can hold: on PostgreSQL a
transaction-level advisory lock (released when the transaction ends, also when its process dies), on SQLite the
database's own write lock (`BEGIN IMMEDIATE`; one file, one host). Both databases run DDL inside a transaction,
so an upgrade lands whole or not at all, and a process that waited for the lock finds the work done.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from driftline.core.errors import SchemaOutdated, SchemaUnrecognised
from driftline.core.store.tables import SCHEDULER_JOBS_TABLE, metadata

MIGRATIONS = Path(__file__).with_name("migrations")
"""Alembic's script folder (env.py, the revision template, versions/), shipped inside the package."""

BASELINE = "0001"
"""The first revision: the tables exactly as Driftline made them with `create_all` before it had migrations."""

ADVISORY_LOCK = 0x64726C6E  # "drln": the PostgreSQL advisory lock key every schema change takes

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    pass


@dataclass(frozen=True)
class SchemaState:
    """What a database holds of Driftline's schema."""

    revision: str | None
    """The revision in `alembic_version`; None when the database has no such table."""
    tables: frozenset[str]
    """Which of Driftline's tables exist."""

    @property
    def empty(self) -> bool:
        """No revision and none of Driftline's tables: a new database."""
        return self.revision is None and not self.tables


class Migrations:
    """The revisions in the package (and in `extra_versions`, folders tests add) and the changes they make."""

    def __init__(self, extra_versions: Sequence[Path] = ()) -> None:
        self._locations = [MIGRATIONS / "versions", *extra_versions]
        self._script = ScriptDirectory.from_config(self.config())

    def config(self, connection: Connection | None = None, progress: Progress = _quiet) -> Config:
        """Alembic's configuration, built in code: the script folder, the version folders and the connection."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", os.pathsep.join(str(path) for path in self._locations))
        config.attributes["connection"] = connection
        config.attributes["on_version_apply"] = lambda *, step, **_: progress(_applied(step))
        return config

    @property
    def head(self) -> str:
        """The newest revision."""
        head = self._script.get_current_head()
        assert head is not None, "the package holds no revision"
        return head

    def known(self, revision: str) -> bool:
        """Whether `revision` is one of these revisions (a newer release's revision is not)."""
        return revision in {script.revision for script in self._script.walk_revisions()}

    def state(self, engine: Engine) -> SchemaState:
        """What the database holds now, read without a lock."""
        with engine.connect() as conn:
            return _state(conn)

    def open(self, engine: Engine) -> None:
        """Make the schema ready for a process that opens the store, or refuse it (see the module docstring)."""
        if self.state(engine).revision == self.head:
            return
        with self._locked(engine) as conn:
            state = _state(conn)
            if state.empty:
                command.upgrade(self.config(conn), "head")
            elif state.revision is None:
                self._adopt(conn)
                if BASELINE != self.head:
                    raise SchemaOutdated(f"{BASELINE} (made before migrations)", self.head)
                command.stamp(self.config(conn), BASELINE)
            elif not self.known(state.revision):
                raise _unknown(state.revision)
            elif state.revision != self.head:
                raise SchemaOutdated(state.revision, self.head)

    def upgrade(self, engine: Engine, progress: Progress = _quiet) -> str:
        """Bring the schema to the newest revision, whatever it is at; returns the revision it started from."""
        with self._locked(engine) as conn:
            state = _state(conn)
            if state.revision is None and not state.empty:
                self._adopt(conn)
                command.stamp(self.config(conn), BASELINE)
                progress(f"tables made before migrations match revision {BASELINE}: stamped {BASELINE}")
            elif state.revision is not None and not self.known(state.revision):
                raise _unknown(state.revision)
            command.upgrade(self.config(conn, progress), "head")
        return state.revision or "none"

    def baseline_columns(self) -> dict[str, set[str]]:
        """Each table of the `BASELINE` revision with its column names, from a scratch in-memory database."""
        scratch = sa.create_engine("sqlite://")
        try:
            with scratch.begin() as conn:
                command.upgrade(self.config(conn), BASELINE)
                inspector = sa.inspect(conn)
                return {
                    table: {column["name"] for column in inspector.get_columns(table)}
                    for table in inspector.get_table_names()
                    if table != "alembic_version"
                }
        finally:
            scratch.dispose()

    def _adopt(self, conn: Connection) -> None:
        """Refuse a database without a revision unless its tables and columns are those of `BASELINE`."""
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        problems = []
        for table, expected in sorted(self.baseline_columns().items()):
            if table not in present:
                problems.append(f"table {table} is missing")
                continue
            found = {column["name"] for column in inspector.get_columns(table)}
            if found != expected:
                missing, extra = sorted(expected - found), sorted(found - expected)
                problems.append(f"table {table} has columns missing {missing} and unexpected {extra}")
        if problems:
            raise SchemaUnrecognised(
                f"it has no revision and its tables are not those of revision {BASELINE}: {'; '.join(problems)}"
            )

    @contextmanager
    def _locked(self, engine: Engine) -> Iterator[Connection]:
        """A connection in a transaction that holds the schema lock; committed when the block ends."""
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.begin()
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            elif conn.dialect.name == "sqlite":
                # taken by the database before the first statement, not when the first write comes
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """What the migrations cover: everything in the database but APScheduler's job table, which APScheduler
    creates and owns (autogenerate and the models-and-migrations test pass this to Alembic)."""
    return not (type_ == "table" and name == SCHEDULER_JOBS_TABLE)


def _unknown(revision: str) -> SchemaUnrecognised:
    return SchemaUnrecognised(
        f"its revision {revision} is not one this release knows (a store upgraded by a newer release needs that "
        "release, or the backup taken before the upgrade)"
    )


def _state(conn: Connection) -> SchemaState:
    revision = MigrationContext.configure(conn).get_current_revision()
    ours = set(metadata.tables)
    return SchemaState(revision, frozenset(ours & set(sa.inspect(conn).get_table_names())))


def _applied(step: Any) -> str:
    """One progress line for a migration step Alembic has just applied."""
    if step.is_stamp:
        return f"stamped {', '.join(step.destination_revision_ids)}"
    verb = "applied" if step.is_upgrade else "reverted"
    return f"{verb} {step.up_revision_id}: {step.up_revision.doc.splitlines()[0]}"
