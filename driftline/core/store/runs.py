"""Training runs: one row per attempt to train a version, whatever its outcome, so `driftline status` and the
retrain trigger's cool-down see every attempt, failed ones too."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from driftline.core.store.engine import OnEngine, new_id
from driftline.core.store.rows import RunRow
from driftline.core.store.tables import training_runs


class Runs(OnEngine):
    """Training runs as they start and finish."""

    def start_run(self, trigger: str) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                training_runs.insert().values(started_at=time.time(), trigger=trigger, status="running")
            )
            return new_id(result)

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        version: int | None = None,
        message: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                training_runs.update()
                .where(training_runs.c.id == run_id)
                .values(
                    finished_at=time.time(),
                    status=status,
                    version=version,
                    message=message,
                    details=dict(details or {}),
                )
            )

    def list_runs(self, limit: int = 50) -> list[RunRow]:
        """The latest `limit` runs, latest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(training_runs).order_by(training_runs.c.id.desc()).limit(limit)).all()
        return [cast(RunRow, dict(row._mapping)) for row in rows]
