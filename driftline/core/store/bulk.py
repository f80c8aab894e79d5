"""Writing a batch of prediction records to PostgreSQL by COPY, the cheapest way in for the client and the server.

The service's log writer runs inside each worker, beside the requests: every millisecond of CPU it spends is one
the worker does not spend answering. An `INSERT` executemany makes SQLAlchemy bind and psycopg send one statement
per row; `COPY` streams the rows in one command, formatted by psycopg's C code. COPY cannot skip a row already
written (a retried batch whose commit answer was lost), so the rows go to a temporary table first and one
`INSERT ... SELECT ... ON CONFLICT DO NOTHING` moves them, in the order they came, in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from driftline.core.store.tables import predictions

COLUMNS = ("request_id", "created_at", "model_version", "features", "output", "latency_ms")
_JSON_COLUMNS = frozenset({"features", "output"})
_STAGING = "incoming_predictions"


def copies(conn: Connection) -> bool:
    """True when `conn` can take the batch by COPY: PostgreSQL through psycopg 3 (not SQLite, not psycopg2)."""
    return conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"


def copy_predictions(conn: Connection, records: Sequence[Mapping[str, Any]]) -> None:
    """Write `records` (prediction rows without ids) in `conn`'s transaction, skipping request ids already logged.

    Only the COPY itself goes past SQLAlchemy (it has no COPY); the statements around it go through it, so a
    refused row raises SQLAlchemy's error (an `IntegrityError`), as the INSERT path does."""
    names = ", ".join(COLUMNS)
    # made in every batch's own transaction (a no-op once the session has it): behind a pooler that hands each
    # transaction another server session, a table made by an earlier batch may not be there; ON COMMIT DELETE ROWS
    # empties it at every commit, so no batch sees another's rows
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} (position integer, request_id text, "
        "created_at double precision, model_version integer, features json, output json, latency_ms double precision) "
        "ON COMMIT DELETE ROWS"
    )
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection checked out of the pool holds its DBAPI connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {_STAGING} (position, {names}) FROM STDIN") as copy:
        for position, record in enumerate(records):
            copy.write_row((position, *(json.dumps(record[c]) if c in _JSON_COLUMNS else record[c] for c in COLUMNS)))
    conn.exec_driver_sql(
        f"INSERT INTO {predictions.name} ({names}) SELECT {names} FROM {_STAGING} ORDER BY position "
        "ON CONFLICT (request_id) DO NOTHING"
    )
