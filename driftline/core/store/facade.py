"""`Store`, the one object the other packages hold: every concern of the store over one engine.

Each concern is a class of its own module, usable alone over an engine (`Versions(engine)`); `Store` is all of them
at once, so callers keep one object and one flat set of method names (`store.promote`, `store.window_ids`), and
one engine, one connection pool, serves them all. The concerns share no state but the engine and no method names.
"""

from __future__ import annotations

from driftline.core.store.drift_checks import DriftChecks
from driftline.core.store.engine import create_engine
from driftline.core.store.lease import Leases
from driftline.core.store.live import LiveTraffic
from driftline.core.store.migrator import Migrations
from driftline.core.store.retention import Pruning
from driftline.core.store.runs import Runs
from driftline.core.store.shadows import Shadows
from driftline.core.store.versions import Versions


class Store(Versions, Runs, LiveTraffic, Leases, DriftChecks, Pruning, Shadows):
    """All reads and writes of Driftline's records; safe to share between threads."""

    def __init__(self, url: str, *, migrations: Migrations | None = None) -> None:
        """Open the store at `url`: a new database gets the schema; one at an older revision is refused (see
        `migrator.py`), naming `driftline db upgrade`."""
        super().__init__(create_engine(url))
        self.url = url
        try:
            (migrations or Migrations()).open(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def dispose(self) -> None:
        """Close the pooled connections (a process that forked, or is done with the store)."""
        self.engine.dispose()
