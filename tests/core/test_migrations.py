"""The store's schema migrations: the newest revision agrees with tables.py, new stores are created at it, other
schemas are refused or upgraded under the lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from driftline.core import SchemaOutdated, SchemaUnrecognised, Store, prediction_records
from driftline.core.store import BASELINE, Migrations, create_engine, metadata
from driftline.core.store.migrator import include_object


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


def differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would write into a new revision: how the database differs from tables.py."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        return list(compare_metadata(context, metadata))


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def log_one(store: Store, request_id: str) -> None:
    store.insert_predictions(
        prediction_records([request_id], [{"x": 1}], [{"y": 0}], model_version=1, created_at=1.0, latency_ms=1.0)
    )


def test_the_newest_revision_matches_the_tables(engine: sa.Engine) -> None:
    """An empty database upgraded to the newest revision differs in nothing from tables.py (`alembic check`)."""
    Migrations().upgrade(engine)
    assert [] == differences(engine)


def test_the_baseline_makes_what_create_all_made(tmp_path: Path, unversioned_store: Path) -> None:
    """On SQLite the baseline revision writes, table by table and index by index, the DDL of the fixture store
    that `metadata.create_all` made before migrations."""

    def ddl(path: Path) -> dict[str, str]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
        return {name: " ".join(sql.split()) for name, table, sql in rows if table in metadata.tables}

    new = tmp_path / "new.db"
    scratch = create_engine(f"sqlite:///{new}")
    with scratch.begin() as conn:
        command.upgrade(Migrations().config(conn), BASELINE)
    scratch.dispose()
    assert ddl(unversioned_store / "driftline.sqlite") == ddl(new)


def test_a_new_database_is_created_at_the_newest_revision(store_url: str, engine: sa.Engine) -> None:
    """Opening the store on an empty database creates the schema and stamps it with the newest revision."""
    Store(store_url).dispose()
    assert Migrations().head == revision(engine)


def test_a_store_made_before_migrations_is_refused_until_upgraded(unversioned_store: Path) -> None:
    """Opening a store that has the baseline's tables and no revision, while newer revisions exist, names
    `driftline db upgrade` and changes nothing."""
    path = unversioned_store / "driftline.sqlite"
    with pytest.raises(SchemaOutdated, match=r"made before migrations.*driftline db upgrade"):
        Store(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    assert None is revision(engine)
    engine.dispose()


def test_a_store_made_before_migrations_is_stamped_as_the_baseline_then_upgraded(unversioned_store: Path) -> None:
    """`driftline db upgrade` stamps such a store with the baseline and applies every later revision."""
    engine = create_engine(f"sqlite:///{unversioned_store / 'driftline.sqlite'}")
    started_from = Migrations().upgrade(engine)
    assert ("none", Migrations().head) == (started_from, revision(engine))


def test_upgrading_a_store_made_before_migrations_says_it_stamped_the_baseline(unversioned_store: Path) -> None:
    """Upgrading a store that has the baseline's tables and no revision records it as the baseline first."""
    engine = create_engine(f"sqlite:///{unversioned_store / 'driftline.sqlite'}")
    steps: list[str] = []
    Migrations().upgrade(engine, steps.append)
    engine.dispose()
    assert f"tables made before migrations match revision {BASELINE}: stamped {BASELINE}" == steps[0]
    engine.dispose()


def test_tables_unlike_the_baseline_are_refused(store_url: str, engine: sa.Engine) -> None:
    """A database with some of Driftline's tables and no revision is refused, naming what is missing."""
    metadata.tables["predictions"].create(engine)
    with pytest.raises(SchemaUnrecognised, match="table model_versions is missing"):
        Store(store_url)


def test_an_older_revision_is_refused_naming_the_upgrade_command(
    store_url: str, engine: sa.Engine, next_release: Migrations
) -> None:
    """A release whose newest revision is ahead of the store refuses to open it and changes nothing."""
    Store(store_url).dispose()
    with pytest.raises(SchemaOutdated, match="run `driftline db upgrade`"):
        Store(store_url, migrations=next_release)
    assert Migrations().head == revision(engine)


def test_a_revision_from_a_newer_release_is_refused(
    store_url: str, engine: sa.Engine, next_release: Migrations
) -> None:
    """A store upgraded by a newer release is refused by this one, naming the revision."""
    next_release.upgrade(engine)
    with pytest.raises(SchemaUnrecognised, match="its revision t0002 is not one this release knows"):
        Store(store_url)


def test_upgrade_keeps_the_rows_of_a_table_it_alters(
    store_url: str, engine: sa.Engine, next_release: Migrations
) -> None:
    """The throwaway revision alters the prediction log (a table copy on SQLite); every row is still there."""
    store = Store(store_url)
    for n in range(3):
        log_one(store, f"r{n}")
    store.dispose()
    next_release.upgrade(engine)
    upgraded = Store(store_url, migrations=next_release)
    assert 3 == upgraded.count_predictions()
    upgraded.dispose()


def test_upgrade_keeps_the_unique_request_id(store_url: str, engine: sa.Engine, next_release: Migrations) -> None:
    """After the table copy a request_id logged twice is still one row (the write relies on the unique index)."""
    Store(store_url).dispose()
    next_release.upgrade(engine)
    store = Store(store_url, migrations=next_release)
    log_one(store, "r1")
    log_one(store, "r1")
    assert 1 == store.count_predictions()
    store.dispose()


def test_upgrade_keeps_the_indexes(store_url: str, engine: sa.Engine, next_release: Migrations) -> None:
    """After the table copy the prediction log keeps the indexes the window reads use."""
    Store(store_url).dispose()
    next_release.upgrade(engine)
    indexes = {index["name"] for index in sa.inspect(engine).get_indexes("predictions")}
    assert {"ix_predictions_created_at", "ix_predictions_version_id"} <= indexes


def test_concurrent_upgrades_apply_each_revision_once(
    store_url: str, engine: sa.Engine, next_release: Migrations
) -> None:
    """Four upgrades started at once on an empty database all succeed: each waits for the lock and finds the
    work done, where two running the same DDL would collide."""
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def upgrade() -> None:
        own = create_engine(store_url)
        start.wait()
        try:
            next_release.upgrade(own)
        except BaseException as exc:  # collected for the assert below
            failures.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=upgrade) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ([], "t0002") == (failures, revision(engine))


def test_processes_opening_a_new_database_at_once_all_start(store_url: str, engine: sa.Engine) -> None:
    """Four stores opened at once on an empty database (workers of a first start) all open it."""
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            Store(store_url).dispose()
        except BaseException as exc:  # collected for the assert below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == failures


@pytest.mark.integration
def test_a_postgresql_store_made_before_migrations_upgrades(postgres_url: str, unversioned_store: Path) -> None:
    """A PostgreSQL database with the tables `create_all` made there before migrations (the fixture's DDL) is
    upgraded to the newest revision and then differs in nothing from tables.py."""
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        for statement in (unversioned_store / "postgresql.sql").read_text(encoding="utf-8").splitlines():
            conn.exec_driver_sql(statement)
    Migrations().upgrade(engine)
    assert ([], Migrations().head) == (differences(engine), revision(engine))
    engine.dispose()
