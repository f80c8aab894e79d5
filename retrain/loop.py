"""The monitor's scheduler: drift checks every interval, drift-triggered and scheduled retrains, one leader.

Jobs live in APScheduler's SQLAlchemy job store in Driftline's own database, with explicit ids and
`replace_existing`, `max_instances=1`, `coalesce` and a misfire grace time. A job store must never be shared by
two running schedulers, so with several `driftline monitor` processes on one store only the holder of the
`monitor` lease runs a scheduler; the others wait and take over when the lease expires.

A drift-triggered retrain also waits out the back-off (`driftline.core.backoff`: the cool-down, doubled per
rejected retrain in a row), which the loop publishes after every check and retrain; scheduled retrains do not.

A check that fails is logged and counted (`driftline_checks_total{outcome="failed"}`) and the loop goes on; so
does a failed retrain (`driftline_retrain_runs_total{outcome="failed"}`). A retrain that the label-free policy
started and that found too few labels waits (`outcome="waiting"`) with the trigger armed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from driftline.core import SCHEDULER_JOBS_TABLE, RetrainBackoff, Settings, log_event, retrain_backoff, shadow_progress
from monitoring import CheckResult, DriftChecker, MonitorMetrics, ReportArchive
from retrain.challenger import WAITING, RetrainDecision, retrain
from retrain.performance_trigger import ESTIMATED_PERFORMANCE
from retrain.pruning import Pruner
from retrain.shadowing import ShadowDecision, decide_shadow
from retrain.trigger import RetrainTrigger, counted_outcome

log = logging.getLogger(__name__)

CHECK_JOB = "drift-check"
RETRAIN_JOB = "scheduled-retrain"
PRUNE_JOB = "retention"
LEASE = "monitor"
# what `driftline status` shows of a check, kept with its record in the store
RECORDED_SUMMARY = (
    "reason",
    "rows",
    "labelled_rows",
    "drifted_features",
    "live_performance",
    "estimated_performance",
    "multivariate_drift",
    "weighted_drift",
    "window",
)
_ACTIVE: list[MonitorLoop] = []  # jobs in a persistent store name module-level functions; they act on this loop


def run_check_job() -> None:
    """APScheduler entry point of the drift-check job."""
    if _ACTIVE:
        _ACTIVE[0].check_once()


def run_scheduled_retrain_job() -> None:
    """APScheduler entry point of the cron retrain job."""
    if _ACTIVE:
        _ACTIVE[0].retrain_now("schedule")


def run_prune_job() -> None:
    """APScheduler entry point of the retention job."""
    if _ACTIVE:
        try:
            _ACTIVE[0].pruner.run()
        except Exception as exc:  # a failed pruning is tried again at the next interval; the loop goes on
            log_event(log, logging.ERROR, "retention failed", error=f"{type(exc).__name__}: {exc}")


class MonitorLoop:
    """Runs `DriftChecker` on a schedule, retrains when drift persists, keeps the last result for HTTP."""

    def __init__(
        self, settings: Settings, checker: DriftChecker, metrics: MonitorMetrics, archive: ReportArchive
    ) -> None:
        self.settings = settings
        self.checker = checker
        self.metrics = metrics
        self.archive = archive
        self.store = checker.registry.store
        self.trigger = RetrainTrigger(settings.retrain)
        self.pruner = Pruner(settings, checker.registry, archive, metrics)
        self.last_decision: RetrainDecision | None = None
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._last: CheckResult | None = None
        self._lock = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    @property
    def leader(self) -> bool:
        return self._scheduler is not None

    def last_check(self) -> dict[str, Any] | None:
        with self._lock:
            return self._last.to_dict() if self._last is not None else None

    def check_once(self) -> CheckResult | None:
        """One check, published and archived, then maybe a retrain; None (logged and counted) when it failed."""
        started = time.monotonic()
        try:
            result = self.checker.run()
        except Exception as exc:  # a failing check must never stop the loop
            self.metrics.failed(time.monotonic() - started)
            log_event(log, logging.ERROR, "drift check failed", error=f"{type(exc).__name__}: {exc}")
            return None
        self.metrics.publish(result)
        if result.drift is not None:
            try:
                self.archive.save(result.drift, result.model_version, result.checked_at)
            except Exception as exc:  # the check stands without its report
                log_event(log, logging.ERROR, "drift report not saved", error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._last = result
        summary = result.to_dict()
        try:
            self.store.record_check(
                checked_at=result.checked_at,
                model_version=result.model_version,
                outcome=result.outcome,
                drift_share=summary["drift_share"],
                summary={k: summary[k] for k in RECORDED_SUMMARY},
            )
        except Exception as exc:  # the status table is a convenience; the check itself succeeded
            log_event(log, logging.ERROR, "check not recorded", error=str(exc))
        log_event(
            log,
            logging.INFO,
            "drift check",
            outcome=result.outcome,
            rows=result.window.rows,
            reason=result.reason,
            drift_share=result.drift.drift_share if result.drift else None,
        )
        self.decide_shadow(result)
        policy = self.settings.retrain.trigger
        label_free = policy == ESTIMATED_PERFORMANCE
        why = self.trigger.observe(
            counted_outcome(result, policy),
            self.store.count_feedback(),
            self.publish_backoff(),
            needs_labels=not label_free,
        )
        if why is not None:
            kept = (
                "drift_share",
                "weighted_drift",
                "estimated_performance",
                "drifted_features",
                "rows",
                "window",
                "model_version",
            )
            summary = {k: v for k, v in result.to_dict().items() if k in kept}
            decision = self.retrain_now("drift", {"reason": why, **summary}, wait_for_labels=label_free)
            if decision.outcome == WAITING:
                self.trigger.await_labels()
        return result

    def retrain_now(
        self, trigger: str, drift: dict[str, Any] | None = None, *, wait_for_labels: bool = False
    ) -> RetrainDecision:
        """Retrain, compare, promote or reject (or wait for labels, see `retrain`); the outcome is counted and
        logged, never raised."""
        decision = retrain(
            self.settings,
            self.checker.registry,
            trigger=trigger,
            drift=drift,
            progress=_log_progress,
            wait_for_labels=wait_for_labels,
        )
        self.metrics.retrains.labels(outcome=decision.outcome).inc()
        if decision.outcome == "promoted":
            self.metrics.promotions.labels(kind="auto").inc()
        self.last_decision = decision
        log_event(
            log,
            logging.WARNING,
            "retrain",
            outcome=decision.outcome,
            reason=decision.reason,
            candidate_version=decision.candidate_version,
        )
        self.publish_backoff()
        return decision

    def decide_shadow(self, check: CheckResult | None = None) -> ShadowDecision | None:
        """Decide the running shadow if its labels are in, or `check`'s estimate brings a watch forward (see
        `retrain/shadowing.py`), counted and published; None while it waits, or (logged) when the decision failed:
        the next check tries again."""
        try:
            decision = decide_shadow(self.settings, self.checker.registry, check=check)
            if decision is not None:
                self.metrics.shadow_decided(decision.purpose, decision.outcome, decision.evidence)
            self.metrics.publish_shadow(shadow_progress(self.store))
        except Exception as exc:  # a shadow left running is decided at the next check
            log_event(log, logging.ERROR, "shadow decision failed", error=f"{type(exc).__name__}: {exc}")
            return None
        return decision

    def publish_backoff(self) -> RetrainBackoff | None:
        """When the next drift-triggered retrain may run, from the store's history, set as gauges; None (logged)
        when the store could not be read."""
        try:
            backoff = retrain_backoff(self.settings.retrain, self.store)
        except Exception as exc:  # the store being away holds drift retrains back; the loop goes on
            log_event(log, logging.ERROR, "retrain back-off not read", error=f"{type(exc).__name__}: {exc}")
            return None
        self.metrics.publish_backoff(backoff)
        return backoff

    # leadership and the scheduler ----------------------------------------------------------------------------

    def start(self) -> None:
        """Hold (or wait for) the monitor lease in the background; the holder runs the scheduler."""
        _ACTIVE[:] = [self]
        self._keeper = threading.Thread(target=self._keep_lease, name="monitor-lease", daemon=True)
        self._keeper.start()

    def stop(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=10)
        self._step_down()
        self.store.release_lease(LEASE, self.holder)

    def _keep_lease(self) -> None:
        ttl = self.settings.monitoring.lease_seconds
        while not self._stop.is_set():
            try:
                held = self.store.acquire_lease(LEASE, self.holder, ttl)
            except Exception as exc:  # the store being away is a lost lease, not a crash
                log_event(log, logging.ERROR, "lease renewal failed", error=str(exc))
                held = False
            if held and not self.leader:
                self._take_over()
            elif not held and self.leader:
                log_event(log, logging.WARNING, "monitor lease lost; standing by", holder=self.holder)
                self._step_down()
            self._stop.wait(ttl / 3)

    def _take_over(self) -> None:
        log_event(log, logging.WARNING, "monitor lease taken; scheduling checks", holder=self.holder)
        self._fail_interrupted_runs()
        interval = self.settings.monitoring.interval_seconds
        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine, tablename=SCHEDULER_JOBS_TABLE)},
            timezone="UTC",
        )
        scheduler.add_job(
            run_check_job,
            "interval",
            seconds=interval,
            id=CHECK_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=interval,
            next_run_time=dt.datetime.now(dt.UTC),
        )
        schedule = self.settings.retrain.schedule
        if schedule:
            scheduler.add_job(
                run_scheduled_retrain_job,
                CronTrigger.from_crontab(schedule, timezone="UTC"),
                id=RETRAIN_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=3600,
            )
        elif scheduler.get_job(RETRAIN_JOB) is not None:
            scheduler.remove_job(RETRAIN_JOB)
        # retention: the leader prunes old rows, reports and versions, first one interval after taking over
        retention = self.settings.retention
        if retention.enabled:
            scheduler.add_job(
                run_prune_job,
                "interval",
                seconds=retention.interval_seconds,
                id=PRUNE_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=retention.interval_seconds,
            )
        elif scheduler.get_job(PRUNE_JOB) is not None:
            scheduler.remove_job(PRUNE_JOB)
        scheduler.start()
        self._scheduler = scheduler
        self.publish_backoff()

    def _step_down(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=True)

    def _fail_interrupted_runs(self) -> None:
        """Training runs left `running` by a monitor that died are recorded as interrupted."""
        for run in self.store.list_runs(limit=20):
            if run["status"] == "running" and run["trigger"] in ("drift", "schedule"):
                self.store.finish_run(run["id"], status="failed", message="interrupted: the monitor stopped mid-run")

    def next_runs(self) -> dict[str, str | None]:
        """When each scheduled job runs next (leader only)."""
        if self._scheduler is None:
            return {}
        return {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None for job in self._scheduler.get_jobs()
        }


def _log_progress(step: str) -> None:
    """Retrain steps and search trials, in the structured log at info level (shown with --verbose)."""
    log_event(log, logging.INFO, "retrain progress", step=step)
