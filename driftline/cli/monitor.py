"""`driftline monitor` and `driftline check`: wiring the checker, metrics, reports, loop and HTTP server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import uvicorn

from driftline.core import Registry, Settings, Store
from driftline.monitoring import DriftChecker, MonitorMetrics, ReportArchive, monitor_app
from driftline.retrain.loop import MonitorLoop

log = logging.getLogger(__name__)


def build_loop(settings: Settings) -> MonitorLoop:
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    archive = ReportArchive(Path(settings.monitoring.reports_dir), settings.monitoring.reports_keep)
    return MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), archive)


def monitor_status(loop: MonitorLoop) -> dict[str, Any]:
    return {"leader": loop.leader, "holder": loop.holder, "next_runs": loop.next_runs()}


def run_monitor(settings: Settings, *, host: str, port: int) -> int:
    """Checks every interval and serves /metrics and /reports/ until interrupted."""
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
