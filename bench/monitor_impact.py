"""Does a running drift check slow the service? /predict latency with and without a monitor checking back to back.

The service runs as in production (2 workers, prediction log on); the monitor is a separate process on the same
store (at its default lower CPU priority), checking every second over a 5,000-row window: far more often than the
default 60 s, so every run overlaps checks. Measuring starts after the monitor's first check. Two loads, each with
runs alternating (off, on, off, on) at 16 connections: saturating (every connection sends back to back, both cores
busy) and paced (each connection waits `--delay-ms` between requests, so the CPU has idle time as a real service
does). The table reports p50 and p99 and how many checks the monitor completed during the measured runs.
The store is a SQLite file unless `--store postgresql` (a throwaway local server).
Usage: `python bench/monitor_impact.py [--seconds 15] [--delay-ms 40] [--rounds 2] [--load both|saturating|paced]
[--store sqlite|postgresql] [--set monitoring.niceness=0]` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import prepare, running, wrk  # noqa: E402
from tests.factories import free_port, postgres_server  # noqa: E402


def wait_for_first_check(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/checks/latest", timeout=5).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("the monitor completed no check")


def checks_done(monitor_url: str) -> float:
    """Checks the monitor has completed so far, whatever their outcome."""
    text = httpx.get(f"{monitor_url}/metrics", timeout=5).text
    counted = [line for line in text.splitlines() if line.startswith("driftline_checks_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in counted)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--delay-ms", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs per load")
    parser.add_argument("--load", choices=["both", "saturating", "paced"], default="both")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a setting for the service and the monitor, e.g. monitoring.niceness=0 (repeatable)",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        store = {}
        for setting in args.set:
            key, _, value = setting.partition("=")
            store["DRIFTLINE_" + key.upper().replace(".", "__")] = value
        if args.store == "postgresql":
            store["DRIFTLINE_STORE__URL"] = stack.enter_context(postgres_server())
        measure(args, store)


def measure(args: argparse.Namespace, store: dict[str, str]) -> None:
    setup = prepare(
        "driftline-monitor-bench-",
        {
            "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "1",
            "DRIFTLINE_MONITORING__MIN_ROWS": "100",
            "DRIFTLINE_MONITORING__LEASE_SECONDS": "2",
            **store,
        },
    )
    work, env, body = setup.work, setup.env, setup.body
    env["DRIFTLINE_MONITORING__REPORTS_DIR"] = str(work / "reports")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    loads = {"saturating": 0, f"paced ({args.delay_ms} ms between requests)": args.delay_ms}
    if args.load != "both":
        loads = {name: delay for name, delay in loads.items() if name.startswith(args.load)}
    results: list[tuple[str, str, dict[str, float]]] = []
    with running([sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)], env, url, "/readyz"):
        wrk(f"{url}/predict", body, 16, 5)  # warm-up, and rows for the monitor's window
        for load, delay in loads.items():
            for with_monitor in (False, True) * args.rounds:
                name = "monitor checking every second" if with_monitor else "no monitor"
                print(f"[bench] {load}: {name}", file=sys.stderr, flush=True)
                if not with_monitor:
                    measured = wrk(f"{url}/predict", body, 16, args.seconds, delay)
                    results.append((load, name, {**measured, "checks": 0, "cpu": 0.0}))
                    continue
                monitor_port = free_port()
                monitor_url = f"http://127.0.0.1:{monitor_port}"
                command = [sys.executable, "-m", "driftline.cli", "monitor", "--port", str(monitor_port)]
                with running(command, env, monitor_url, "/healthz") as monitor:
                    wait_for_first_check(monitor_url)  # measure checking, not start-up
                    before, cpu = checks_done(monitor_url), cpu_seconds(monitor.pid)
                    measured = wrk(f"{url}/predict", body, 16, args.seconds, delay)
                    cpu = cpu_seconds(monitor.pid) - cpu
                    results.append((load, name, {**measured, "checks": checks_done(monitor_url) - before, "cpu": cpu}))
    print(
        f"\n| load ({args.seconds} s per run, 16 connections) | setup | req/s | p50 ms | p99 ms | failed | checks "
        "| monitor CPU s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for load, name, r in results:
        print(
            f"| {load} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']:.0f} "
            f"| {r['checks']:.0f} | {r['cpu']:.1f} |"
        )

    def mean(load: str, name: str, key: str) -> float:
        values = [r[key] for lo, n, r in results if lo == load and n == name]
        return sum(values) / len(values)

    print()
    for load in loads:
        ratio = mean(load, "monitor checking every second", "p99_ms") / mean(load, "no monitor", "p99_ms")
        runs = [r["p99_ms"] for lo, _, r in results if lo == load]
        pairs = sorted(on / off for off, on in zip(runs[::2], runs[1::2], strict=True))
        print(
            f"{load}: p99 with the monitor checking / without: {ratio:.2f} (target <= 1.10); "
            f"per pair: {', '.join(f'{p:.2f}' for p in pairs)}"
        )
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
