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
from driftline.retrain.challenger import RetrainDecision, retrain
from driftline.retrain.trigger import RetrainTrigger

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
        self.trigger = RetrainTrigger(settings.retrain, checker.registry.store)
        self.last_decision: RetrainDecision | None = None

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
        why = self.trigger.observe(result.outcome, self._labelled_rows())
        if why is not None:
            kept = ("drift_share", "drifted_features", "rows", "window", "model_version")
            summary = {k: v for k, v in result.to_dict().items() if k in kept}
            self.retrain_now("drift", {"reason": why, **summary})
        return result

    def retrain_now(self, trigger: str, drift: dict[str, Any] | None = None) -> RetrainDecision:
        """Retrain, compare, promote or reject; the outcome is counted and logged, never raised."""
        decision = retrain(self.settings, self.checker.registry, trigger=trigger, drift=drift)
        self.metrics.retrains.labels(outcome=decision.outcome).inc()
        if decision.outcome == "promoted":
            self.metrics.promotions.labels(kind="auto").inc()
        self.last_decision = decision
        log.warning(
            "retrain",
            extra={
                "outcome": decision.outcome,
                "reason": decision.reason,
                "candidate_version": decision.candidate_version,
            },
        )
        return decision

    def _labelled_rows(self) -> int:
        return self.checker.registry.store.count_feedback()

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
        schedule = self.settings.retrain.schedule
        if schedule:
            from apscheduler.triggers.cron import CronTrigger

            self.scheduler.add_job(
                self.retrain_now,
                CronTrigger.from_crontab(schedule, timezone="UTC"),
                args=["schedule"],
                id="scheduled-retrain",
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)
