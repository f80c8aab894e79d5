"""What the monitor leaves behind for `driftline status`: the drift checks it ran and when its jobs run next.

The monitor's own HTTP surface answers for a running monitor; these rows answer from the store alone, with no
monitor running, or from any host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from driftline.core.store.engine import OnEngine
from driftline.core.store.rows import CheckRow
from driftline.core.store.tables import SCHEDULER_JOBS_TABLE, checks, scheduler_jobs


class DriftChecks(OnEngine):
    """Recorded drift checks, and the next run times in the monitor's APScheduler job table."""

    def record_check(
        self,
        *,
        checked_at: float,
        model_version: int,
        outcome: str,
        drift_share: float | None,
        summary: Mapping[str, Any],
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                checks.insert().values(
                    checked_at=checked_at,
                    model_version=model_version,
                    outcome=outcome,
                    drift_share=drift_share,
                    summary=dict(summary),
                )
            )

    def last_checks(self, limit: int = 5) -> list[CheckRow]:
        """The latest `limit` checks, latest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(checks).order_by(checks.c.id.desc()).limit(limit)).all()
        return [cast(CheckRow, dict(row._mapping)) for row in rows]

    def last_check_at(self, outcome: str) -> float | None:
        """When the latest check with `outcome` ran (None if none did); it may lie any number of checks back."""
        query = sa.select(sa.func.max(checks.c.checked_at)).where(checks.c.outcome == outcome)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return float(value) if value is not None else None

    def scheduled_runs(self) -> dict[str, float | None]:
        """Next run time of each job in the monitor's APScheduler job store (empty before a monitor ran)."""
        if not sa.inspect(self.engine).has_table(SCHEDULER_JOBS_TABLE):
            return {}
        query = sa.select(scheduler_jobs.c.id, scheduler_jobs.c.next_run_time).order_by(scheduler_jobs.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {row[0]: row[1] for row in rows}
