"""The monitor's HTTP surface: Prometheus /metrics, the saved reports, the last check as JSON."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from driftline.core import log_event
from monitoring.metrics import MonitorMetrics
from monitoring.reports import ReportArchive, ReportError

log = logging.getLogger(__name__)


def monitor_app(
    metrics: MonitorMetrics,
    archive: ReportArchive,
    last_check: Callable[[], dict[str, Any] | None],
    status: Callable[[], dict[str, Any]] = dict,
) -> Starlette:
    """A small Starlette app; the loop that runs checks lives elsewhere and reports through `last_check`."""

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def reports(_: Request) -> HTMLResponse:
        items = []
        for found in archive.list():
            when = archive.taken_at(found).strftime("%Y-%m-%d %H:%M:%S UTC")
            name = html.escape(found)
            items.append(f'<li><a href="/reports/{name}">{name}</a> <small>{when}</small></li>')
        body = "".join(items) or "<li>no checks yet</li>"
        return HTMLResponse(
            f"<!doctype html><title>Driftline reports</title><h1>Drift reports (latest first)</h1><ol>{body}</ol>"
        )

    async def report(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            path = await run_in_threadpool(archive.get, name)  # the first open renders it, off the event loop
        except ReportError as exc:
            log_event(log, logging.ERROR, "drift report not rendered", error=str(exc))
            return JSONResponse({"error": str(exc)}, status_code=500)
        if path is None:
            return JSONResponse({"error": f"no report named {name!r}"}, status_code=404)
        return FileResponse(path, media_type="text/html")

    async def latest(_: Request) -> JSONResponse:
        result = last_check()
        if result is None:
            return JSONResponse({"error": "no check has completed yet"}, status_code=404)
        return JSONResponse(result)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", **status()})

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/reports/")

    return Starlette(
        routes=[
            Route("/", root),
            Route("/metrics", prometheus),
            Route("/reports/", reports),
            Route("/reports/{name}", report),
            Route("/checks/latest", latest),
            Route("/healthz", health),
        ]
    )
