"""The monitor's scheduler: an APScheduler job that runs a drift check every interval, publishes and archives it.

A check that fails is logged and counted (`driftline_checks_total{outcome="failed"}`) and the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from driftline.core.settings import Settings
from driftline.monitoring import CheckResult, DriftChecker, MonitorMetrics, ReportArchive

log = logging.getLogger(__name__)

CHECK_JOB = "drift-check"


class MonitorLoop:
    """Runs `DriftChecker` on a schedule and keeps the last result for the HTTP surface."""

    def __init__(
        self, settings: Settings, checker: DriftChecker, metrics: MonitorMetrics, archive: ReportArchive
    ) -> None:
        self.settings = settings
        self.checker = checker
        self.metrics = metrics
        self.archive = archive
        self._last: CheckResult | None = None
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone="UTC")

    def last_check(self) -> dict[str, Any] | None:
        with self._lock:
            return self._last.to_dict() if self._last is not None else None

    def check_once(self) -> CheckResult | None:
        """One check, published and archived; None (logged and counted) when it failed."""
        started = time.monotonic()
        try:
            result = self.checker.run()
        except Exception as exc:  # a failing check must never stop the loop
            self.metrics.failed(time.monotonic() - started)
            log.error("drift check failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return None
        self.metrics.publish(result)
        if result.drift is not None:
            try:
                self.archive.save(result.drift, result.model_version, result.checked_at)
            except OSError as exc:
                log.error("drift report not saved", extra={"error": str(exc)})
        with self._lock:
            self._last = result
        log.info(
            "drift check",
            extra={
                "outcome": result.outcome,
                "rows": result.window.rows,
                "reason": result.reason,
                "drift_share": result.drift.drift_share if result.drift else None,
            },
        )
        return result

    def start(self) -> None:
        """Check now, then every `monitoring.interval_seconds`."""
        interval = self.settings.monitoring.interval_seconds
        self.scheduler.add_job(
            self.check_once,
            "interval",
            seconds=interval,
            id=CHECK_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=interval,
            next_run_time=_now(),
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)
