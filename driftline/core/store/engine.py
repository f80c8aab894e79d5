"""The one engine every part of the store shares, and the few places where SQLite and PostgreSQL differ."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine


def create_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL and a busy timeout so several workers can write to one file."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            _wal(cursor)
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


class OnEngine:
    """One concern of the store: its reads and writes over the engine all concerns share; safe between threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine


def new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an insert of one row gave it."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def conflict_insert(conn: Connection, table: sa.Table) -> Any:
    """An insert into `table` that takes an ON CONFLICT clause, in the connection's dialect (SQLite unless
    PostgreSQL); typed Any because the two dialects' insert classes share no base that declares the clause."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def locked(conn: Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    """`query` locking the rows it reads until the transaction ends where the database has row locks (PostgreSQL;
    SQLite has none)."""
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def _wal(cursor: Any, seconds: float = 30.0) -> None:
    """Switch the file to WAL (a setting the file keeps). Processes opening a new file together race for it, and
    SQLite answers the loser "database is locked" at once instead of waiting its busy timeout: retry a while."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
