"""`driftline db upgrade` and `driftline db current`: the store's schema revision, read and brought up to date.

Neither opens a `Store`, since opening one refuses a schema that needs upgrading; both work on the engine.
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

from driftline.core import Migrations, Settings, create_engine


def _progress(message: str) -> None:
    print(f"[db] {message}", file=sys.stderr, flush=True)


def _shown(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def upgrade_store(settings: Settings, migrations: Migrations) -> int:
    """Bring the store's schema to the newest revision, printing each step; exit code 0."""
    engine = create_engine(settings.store.url)
    try:
        state = migrations.state(engine)
        _progress(f"store {_shown(settings.store.url)}: {describe(migrations, state.revision, empty=state.empty)}")
        before = migrations.upgrade(engine, _progress)
        after = migrations.state(engine).revision
    finally:
        engine.dispose()
    if before == after:
        print(f"schema at revision {after}, the newest; nothing to do")
    else:
        print(f"schema at revision {after}, the newest (was {before})")
    return 0


def current_revision(settings: Settings, migrations: Migrations) -> int:
    """Print the store's schema revision; exit code 0 at the newest revision, 1 otherwise."""
    engine = create_engine(settings.store.url)
    try:
        state = migrations.state(engine)
    finally:
        engine.dispose()
    print(describe(migrations, state.revision, empty=state.empty))
    return 0 if state.revision == migrations.head else 1


def describe(migrations: Migrations, revision: str | None, *, empty: bool) -> str:
    """One line on where a schema stands against this release's revisions."""
    head = migrations.head
    if revision == head:
        return f"revision {revision} (the newest)"
    if empty:
        return f"no schema yet (opening the store creates revision {head})"
    if revision is None:
        return "tables made before migrations, no revision (`driftline db upgrade` checks and stamps them)"
    if not migrations.known(revision):
        return f"revision {revision}, unknown to this release (a newer release upgraded it)"
    return f"revision {revision}; this release needs {head}: run `driftline db upgrade`"
