"""Prometheus and then the monitor die (`kill -9`) while clients call the service: nobody waits for them.

The service neither pushes to Prometheus nor calls the monitor, and this keeps it so: through both deaths every
request gets a 200, latency stays in the same order as with everything up, and predictions are still logged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
import yaml

from driftline.cli.prometheus import local_config
from tests.processes import Served, free_port, start_driftline, start_prometheus, stop_process_group, wait_for
from tests.reliability.load import Load, Outcome, answered_ids

pytestmark = pytest.mark.integration

PHASE_SECONDS = 4.0


def _get(url: str) -> httpx.Response | None:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=3)
    return None


def _status(url: str) -> int | None:
    answer = _get(url)
    return None if answer is None else answer.status_code


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the whole process group: no shutdown handler runs."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def both_up(prometheus_url: str) -> bool:
    """Prometheus's last scrape of the service and of the monitor both succeeded."""
    answer = _get(f"{prometheus_url}/api/v1/query?query=sum(up)")
    result = answer.json()["data"]["result"] if answer is not None and answer.status_code == 200 else []
    return bool(result) and 2 == float(result[0]["value"][1])


def checked(monitor_url: str) -> bool:
    """The monitor has run a drift check on live rows (not skipped for want of rows)."""
    answer = _get(f"{monitor_url}/checks/latest")
    return answer is not None and answer.status_code == 200 and answer.json().get("outcome") in ("ok", "drift")


def latencies(outcomes: list[Outcome], start: float, end: float) -> list[float]:
    return [o.latency for o in outcomes if start <= o.sent < end]


def test_service_keeps_answering_and_logging_when_prometheus_and_the_monitor_die(
    service_factory: Callable[..., Served],
) -> None:
    """After Prometheus and then the monitor are killed, every request still gets a 200 as fast, and is logged."""
    service = service_factory(monitoring__interval_seconds=2, monitoring__min_rows=100, monitoring__window_rows=1000)
    folder = service.config.parent
    monitor_port, prometheus_port = free_port(), free_port()
    monitor_url = f"http://127.0.0.1:{monitor_port}"
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
    config = local_config(
        folder, service=service.url.removeprefix("http://"), monitor=monitor_url.removeprefix("http://")
    )
    scrape = yaml.safe_load(config.read_text())
    scrape["global"]["scrape_interval"] = "1s"
    config.write_text(yaml.safe_dump(scrape))
    with contextlib.ExitStack() as started:
        monitor = start_driftline("monitor", monitor_port, config=service.config, log=folder / "monitor.log")
        started.callback(stop_process_group, monitor, 20)
        prometheus = start_prometheus(config, prometheus_port, data=folder / "tsdb", log=folder / "prometheus.log")
        started.callback(stop_process_group, prometheus, 20)
        warm_up = Load(service.url, threads=2, pause=0.05)  # rows for the monitor's first real check
        with warm_up:
            wait_for("Prometheus to scrape the service and the monitor", lambda: both_up(prometheus_url), 60, 0.5)
            wait_for("a drift check by the monitor", lambda: checked(monitor_url), 60, every=0.5)
        load = Load(service.url, threads=4, pause=0.01)
        with load:
            time.sleep(1.0)
            start = time.monotonic()
            time.sleep(PHASE_SECONDS)
            kill_hard(prometheus)
            no_prometheus = time.monotonic()
            time.sleep(PHASE_SECONDS)
            kill_hard(monitor)
            no_monitor = time.monotonic()
            time.sleep(PHASE_SECONDS)
            end = time.monotonic()
    outcomes = load.snapshot()
    phases = {
        "all up": latencies(outcomes, start, no_prometheus),
        "prometheus down": latencies(outcomes, no_prometheus, no_monitor),
        "both down": latencies(outcomes, no_monitor, end),
    }
    assert [] == [(o.status, o.error) for o in warm_up.snapshot() + outcomes if o.status != 200]
    baseline = statistics.median(phases["all up"])
    for name, values in phases.items():
        assert len(values) >= 50, name
        assert max(values) < 2.0, name
        assert statistics.median(values) < 4 * baseline + 0.05, name  # same order: a hang would be seconds
    late = answered_ids([o for o in outcomes if o.sent >= no_prometheus])
    wait_for("predictions answered after the kills to be logged", lambda: len(service.logged(late)) == len(late), 20)
    print(
        f"requests={len(outcomes)} failed=0 "
        + " ".join(
            f"{name.replace(' ', '_')}: n={len(v)} p50={statistics.median(v) * 1000:.1f}ms max={max(v) * 1000:.0f}ms"
            for name, v in phases.items()
        )
        + f" records_after_kills={len(late)} lost=0"
    )
