"""How Alembic runs the store's migrations: on the connection Driftline hands it, inside the transaction it holds.

Driftline builds Alembic's configuration in code (`driftline/core/store/migrator.py`), so an installed Driftline
needs no alembic.ini: the caller opens the connection, takes the lock, begins the transaction and puts the
connection (and optionally a progress callback) in `config.attributes`. Alembic then sees a transaction already
begun and runs every step in it, so an upgrade lands whole or not at all, on PostgreSQL and on SQLite alike.
"""

from __future__ import annotations

from alembic import context

from driftline.core.store.migrator import include_object
from driftline.core.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the store's migrations run through Driftline (`driftline db upgrade`), not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table only by copying it; batch mode writes each change that way there, and as plain ALTERs
    # on PostgreSQL
    render_as_batch=True,
    include_object=include_object,
    # the caller's transaction holds every step, SQLite's included (its DDL is transactional once begun)
    transactional_ddl=True,
    on_version_apply=config.attributes.get("on_version_apply", ()),
)
with context.begin_transaction():
    context.run_migrations()
