"""Leases: among several monitors on one store, the one holding the lease acts and the others stand by.

A lease is a row with a holder and an expiry time; taking it is one conditional UPDATE (or the first INSERT), so
two replicas racing for it cannot both win, on SQLite or PostgreSQL.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from driftline.core.store.engine import OnEngine
from driftline.core.store.tables import leases


class Leases(OnEngine):
    """Named leases, each held by at most one holder until it expires or is released."""

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
        """Let the lease go at once, if `holder` has it, so another replica need not wait for it to expire."""
        with self.engine.begin() as conn:
            conn.execute(leases.update().where(leases.c.name == name, leases.c.holder == holder).values(expires_at=0.0))
