"""Does a running drift check slow the service? /predict latency while the monitor checks back to back, and while
it is paused.

The service runs as in production (2 workers, prediction log on) and gets 2,000 real held-out flights rows in turn,
one per request; one `driftline monitor` on the same store (at its default lower CPU priority) checks every second
over a 5,000-row window: far more often than the default 60 s, so
every run overlaps checks. Measuring starts after the monitor's first check. The monitor is then paused (SIGSTOP)
and resumed (SIGCONT) between `wrk` runs, in off-on / on-off pairs, so both sides see the same machine: the ratio
of the two sides is what the target is about, and many short pairs beat a few long ones on a shared machine. The
ratio pools every request of each side (wrk's full latency histogram) and resamples the pairs for an interval. Two
loads at 16 connections: saturating (every connection sends back to back, both cores busy) and paced (each
connection waits `--delay-ms` between requests, so the CPU has idle time as a real service does). The table
reports p50 and p99, the checks the monitor completed and the CPU time it used in each run.
The store is a SQLite file unless `--store postgresql` (a throwaway local server).
Usage: `python bench/monitor_impact.py [--seconds 5] [--delay-ms 40] [--rounds 20] [--load both|saturating|paced]
[--store sqlite|postgresql] [--set monitoring.niceness=0] [--stand-in SHARE] [--one-row]` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import prepare, running, wrk  # noqa: E402
from tests.processes import free_port, postgres_server  # noqa: E402

ON, OFF = "monitor checking every second", "monitor paused"


def wait_for_first_check(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/checks/latest", timeout=5).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("the monitor completed no check")


def checks_done(monitor_url: str) -> float:
    """Checks the monitor has completed so far, whatever their outcome."""
    # the monitor runs at the lowest CPU priority: on a saturated, shared machine its answer can take seconds
    text = httpx.get(f"{monitor_url}/metrics", timeout=60).text
    counted = [line for line in text.splitlines() if line.startswith("driftline_checks_total{")]
    return sum(float(line.rsplit(" ", 1)[1]) for line in counted)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--delay-ms", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=20, help="off/on pairs per load")
    parser.add_argument("--load", choices=["both", "saturating", "paced"], default="both")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--stand-in",
        type=float,
        metavar="SHARE",
        help="instead of the monitor, a process at its priority busy for SHARE of every second (bench/cpu_stand_in.py; "
        "0: idle, which measures the benchmark's noise)",
    )
    parser.add_argument(
        "--one-row",
        action="store_true",
        help="send the same row in every request (as runs before 2026-11-22, 10:00 did) instead of 2,000 real rows in "
        "turn",
    )
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
            **store,
        },
    )
    work, env, body = setup.work, setup.env, (setup.body if args.one_row else setup.bodies)
    env.setdefault("DRIFTLINE_MONITORING__REPORTS_DIR", str(work / "reports"))
    port, monitor_port = free_port(), free_port()
    url, monitor_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{monitor_port}"
    loads = {"saturating": 0, f"paced ({args.delay_ms} ms between requests)": args.delay_ms}
    if args.load != "both":
        loads = {name: delay for name, delay in loads.items() if name.startswith(args.load)}
    results: list[tuple[str, str, dict[str, Any]]] = []
    monitor_command = [sys.executable, "-m", "driftline.cli", "monitor", "--port", str(monitor_port)]
    with running([sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)], env, url, "/readyz"):
        wrk(f"{url}/predict", body, 16, 5)  # warm-up, and rows for the monitor's window
        with contextlib.ExitStack() as stack:
            if args.stand_in is None:
                monitor = stack.enter_context(running(monitor_command, env, monitor_url, "/healthz"))
                wait_for_first_check(monitor_url)  # measure checking, not start-up
            else:
                command = [sys.executable, str(ROOT / "bench" / "cpu_stand_in.py"), str(args.stand_in)]
                monitor = subprocess.Popen(command, start_new_session=True)
                stack.callback(monitor.wait)
                stack.callback(os.killpg, monitor.pid, signal.SIGKILL)  # runs first: callbacks unwind in reverse
            for load, delay in loads.items():
                for pair in range(args.rounds):
                    # off-on, then on-off: a trend in the machine's load falls on both sides alike
                    for checking in (False, True) if pair % 2 == 0 else (True, False):
                        name = ON if checking else OFF
                        print(f"[bench] {load}: pair {pair + 1}, {name}", file=sys.stderr, flush=True)
                        os.killpg(monitor.pid, signal.SIGCONT if checking else signal.SIGSTOP)
                        time.sleep(1)  # a resumed monitor catches up with its schedule before measuring
                        counting = checking and args.stand_in is None
                        before, cpu = checks_done(monitor_url) if counting else 0.0, cpu_seconds(monitor.pid)
                        measured = wrk(f"{url}/predict", body, 16, args.seconds, delay)
                        checks = checks_done(monitor_url) - before if counting else 0.0
                        cpu = cpu_seconds(monitor.pid) - cpu
                        results.append((load, name, {**measured, "checks": checks, "cpu": cpu}))
            os.killpg(monitor.pid, signal.SIGCONT)  # a stopped process would not stop on SIGTERM
    if args.stand_in is not None:
        print(f"\nThe monitor replaced by bench/cpu_stand_in.py busy {args.stand_in:.0%} of every second.")
    report(args, loads, results)
    subprocess.run(["rm", "-rf", str(work)], check=False)


def report(args: argparse.Namespace, loads: dict[str, int], results: list[tuple[str, str, dict[str, Any]]]) -> None:
    print(
        f"\n| load ({args.seconds} s per run, 16 connections) | monitor | req/s | p50 ms | p99 ms | failed | checks "
        "| monitor CPU s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for load, name, r in results:
        print(
            f"| {load} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['failed']:.0f} "
            f"| {r['checks']:.0f} | {r['cpu']:.1f} |"
        )
    print()
    for load in loads:
        on = [r for lo, n, r in results if lo == load and n == ON]
        off = [r for lo, n, r in results if lo == load and n == OFF]
        pairs = sorted(a["p99_ms"] / b["p99_ms"] for a, b in zip(on, off, strict=True))
        ratio, low, high = pooled_p99_ratio([r["latencies"] for r in on], [r["latencies"] for r in off])
        print(
            f"{load}: p99 of every request with the monitor checking / paused: {ratio:.2f} (target <= 1.10; "
            f"90% interval over the pairs {low:.2f}-{high:.2f}); median pair {statistics.median(pairs):.2f}; "
            f"per pair: {', '.join(f'{p:.2f}' for p in pairs)}"
        )


def pooled_p99_ratio(
    on: list[Counter[int]], off: list[Counter[int]], resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """p99 of all requests of the `on` runs over that of the `off` runs, with a 90% bootstrap interval that resamples
    whole pairs (run i of `on` goes with run i of `off`): one run's stall weighs by its requests, not as one of a
    few per-run p99s.
    """
    arrays = [[_as_arrays(h) for h in side] for side in (on, off)]

    def ratio(picked: np.ndarray) -> float:
        on_p99, off_p99 = (_p99([side[i] for i in picked]) for side in arrays)
        return on_p99 / off_p99

    everything = ratio(np.arange(len(on)))
    rng = np.random.default_rng(seed)
    draws = [ratio(rng.integers(0, len(on), len(on))) for _ in range(resamples)]
    return everything, float(np.quantile(draws, 0.05)), float(np.quantile(draws, 0.95))


def _as_arrays(histogram: Counter[int]) -> tuple[np.ndarray, np.ndarray]:
    values = np.fromiter(histogram.keys(), dtype=np.int64, count=len(histogram))
    counts = np.fromiter(histogram.values(), dtype=np.int64, count=len(histogram))
    return values, counts


def _p99(runs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    values = np.concatenate([v for v, _ in runs])
    counts = np.concatenate([c for _, c in runs])
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(counts[order])
    return float(values[order][np.searchsorted(cumulative, 0.99 * cumulative[-1])])


if __name__ == "__main__":
    main()
