"""`driftline monitor` and `driftline check`: wiring the checker, metrics, reports, loop and HTTP server."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import uvicorn
from threadpoolctl import threadpool_limits

from driftline.core import Registry, Settings, Store
from monitoring import DriftChecker, MonitorMetrics, ReportArchive, monitor_app
from retrain import MonitorLoop

log = logging.getLogger(__name__)


def build_loop(settings: Settings) -> MonitorLoop:
    registry = Registry.configured(Store(settings.store.url), settings.store)
    archive = ReportArchive(Path(settings.monitoring.reports_dir), settings.monitoring.reports_keep)
    return MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), archive)


def monitor_status(loop: MonitorLoop) -> dict[str, Any]:
    return {"leader": loop.leader, "holder": loop.holder, "next_runs": loop.next_runs()}


def lower_priority(niceness: int) -> None:
    """Run every thread of this process, those already started and those started later, at `niceness` (added to
    what it had, up to 19) in the idle scheduling class; alone in its session, lower its scheduler autogroup too.

    On Linux both are per thread: imports start threads before any setting can apply (OpenBLAS workers, pyarrow's
    jemalloc purger), so each one found in /proc/self/task is lowered; later threads inherit from their creator.
    Linux also groups the processes of a session for scheduling, and niceness only orders processes within a group:
    a monitor started in a session of its own (a terminal, a service manager) competes group against group unless
    the group itself is lowered.
    """
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        # a thread may end between the listing and the call
        with contextlib.suppress(ProcessLookupError):
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + niceness))
            # the idle scheduling class on top: a request waking on the core a check is using takes it at once
            with contextlib.suppress(PermissionError, AttributeError):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    if os.getsid(0) == os.getpid():
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(niceness))


def run_monitor(settings: Settings, *, host: str, port: int) -> int:
    """Checks every interval and serves /metrics and /reports/ until interrupted."""
    # a check is seconds of CPU; on the service's machine it must wait for prediction requests, not compete:
    # one thread for numeric libraries, and the lowest priority for every thread
    threadpool_limits(limits=1)
    if settings.monitoring.niceness:
        lower_priority(settings.monitoring.niceness)
    loop = build_loop(settings)
    loop.start()
    try:
        uvicorn.run(
            monitor_app(loop.metrics, loop.archive, loop.last_check, status=lambda: monitor_status(loop)),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
    finally:
        loop.stop()
    return 0
