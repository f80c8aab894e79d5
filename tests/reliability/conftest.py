"""Real processes to break: services on a trained loans model (`tests/processes.py` starts them), a PostgreSQL
server that can be stopped, started again on the same port and data, or paused, and a way to make a SQLite file
refuse writes.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import RestartablePostgres, Served, serve_trained

# the service ----------------------------------------------------------------------------------------------------


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Starts services with `serve_trained` (one worker unless told otherwise), each into a folder of its own,
    optionally on the store at `store_url`; stops every one of them at the end of the test."""
    folders = iter(range(100))
    with contextlib.ExitStack() as started:

        def start(
            store_url: str | None = None, *, workers: int = 1, train_first: bool = True, **overrides: Any
        ) -> Served:
            folder = tmp_path / f"service{next(folders)}"
            folder.mkdir()
            if store_url is not None:
                overrides["store__url"] = store_url
            return started.enter_context(serve_trained(folder, workers=workers, train_first=train_first, **overrides))

        yield start


# PostgreSQL that can be stopped and started again ----------------------------------------------------------------


@pytest.fixture
def restartable_postgres() -> Iterator[RestartablePostgres]:
    server = RestartablePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


# a SQLite file that refuses writes -----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_unwritable(database: Path) -> Iterator[None]:
    """Make the database file, its WAL and its folder refuse writes, even to connections that are already open.

    `chmod` does not stop writes through file descriptors already open (nor anything done as root), so this sets
    the immutable attribute (`chattr +i`), which the kernel checks on every write. The shared-memory index stays
    writable: it is mapped into the writers' memory, and freezing it would crash them instead of failing a write.
    """
    targets = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()] + [database.parent]
    if shutil.which("chattr") is None:
        pytest.skip("chattr is missing: run scripts/system-deps.sh")
    result = subprocess.run(["chattr", "+i", *map(str, targets)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot make the SQLite file immutable here (chattr needs CAP_LINUX_IMMUTABLE): {result.stderr}")
    try:
        probe = sqlite3.connect(database, timeout=1)
        try:
            with pytest.raises(sqlite3.OperationalError, match=r"readonly|I/O"):
                probe.execute("CREATE TABLE outage_probe (x)")
        finally:
            probe.close()
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, targets)], check=True)
