"""Does a running drift check slow the service? /predict latency with and without a monitor checking back to back.

The service runs as in production (2 workers, prediction log on); the monitor is a separate process on the same
store (at its default lower CPU priority), checking every second over a 5,000-row window: far more often than the
default 60 s, so every run overlaps checks. Measuring starts after the monitor's first check. Runs alternate (off,
on, off, on) and the table reports p50 and p99 at 16 connections.
Usage: `python bench/monitor_impact.py [--seconds 15]` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import prepare, running, wrk  # noqa: E402
from tests.factories import free_port  # noqa: E402


def wait_for_first_check(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/checks/latest", timeout=5).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("the monitor completed no check")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    setup = prepare(
        "driftline-monitor-bench-",
        {
            "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "1",
            "DRIFTLINE_MONITORING__MIN_ROWS": "100",
            "DRIFTLINE_MONITORING__LEASE_SECONDS": "2",
        },
    )
    work, env, body = setup.work, setup.env, setup.body
    env["DRIFTLINE_MONITORING__REPORTS_DIR"] = str(work / "reports")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    results: list[tuple[str, dict[str, float]]] = []
    with running([sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)], env, url, "/readyz"):
        wrk(f"{url}/predict", body, 16, 5)  # warm-up, and rows for the monitor's window
        for with_monitor in (False, True, False, True):
            name = "monitor checking every second" if with_monitor else "no monitor"
            print(f"[bench] {name}", file=sys.stderr, flush=True)
            if not with_monitor:
                results.append((name, wrk(f"{url}/predict", body, 16, args.seconds)))
                continue
            monitor_port = free_port()
            command = [sys.executable, "-m", "driftline.cli", "monitor", "--port", str(monitor_port)]
            with running(command, env, f"http://127.0.0.1:{monitor_port}", "/healthz"):
                wait_for_first_check(f"http://127.0.0.1:{monitor_port}")  # measure checking, not start-up
                results.append((name, wrk(f"{url}/predict", body, 16, args.seconds)))
                checks = httpx.get(f"http://127.0.0.1:{monitor_port}/metrics").text
            done = [line for line in checks.splitlines() if line.startswith("driftline_checks_total{")]
            print(f"[bench] monitor counters: {'; '.join(done)}", file=sys.stderr, flush=True)
    print(f"\n| setup ({args.seconds} s per run, 16 connections) | req/s | p50 ms | p99 ms | failed |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results:
        print(f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']:.0f} |")

    def mean(name: str, key: str) -> float:
        values = [r[key] for n, r in results if n == name]
        return sum(values) / len(values)

    ratio = mean("monitor checking every second", "p99_ms") / mean("no monitor", "p99_ms")
    print(f"\np99 with the monitor checking / without: {ratio:.2f} (target <= 1.10)")
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
