"""Write the next schema revision from what changed in driftline/core/store/tables.py (`make revision m="…"`).

Alembic's autogenerate compares tables.py with a scratch SQLite database brought to the newest revision, and
writes the difference as driftline/core/store/migrations/versions/NNNN_<message>.py, in batch mode (so it runs on
SQLite and PostgreSQL). Read it before committing: autogenerate misses renames and data changes, and a column
added as NOT NULL to a table with rows needs a server default. The models-and-migrations test in
tests/core/test_migrations.py fails until the revision and tables.py agree.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa
from alembic import command

from driftline.core import Migrations


def main(message: str) -> None:
    migrations = Migrations()
    scratch = sa.create_engine("sqlite://")
    with scratch.begin() as conn:
        command.upgrade(migrations.config(conn), "head")
        command.revision(
            migrations.config(conn), message=message, autogenerate=True, rev_id=f"{int(migrations.head) + 1:04d}"
        )
    scratch.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        raise SystemExit('usage: python scripts/new_revision.py "what changed in the tables"')
    main(sys.argv[1])
