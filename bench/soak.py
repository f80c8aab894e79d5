"""Soak benchmark: does memory stay flat when the service and the monitor run for ten minutes of steady traffic?

The same stack and traffic as bench/load.py (real service with 2 workers, real monitor, wrk sending mixed /predict
and /feedback requests of real flights rows), but at a moderate rate: a few connections that each pause before every
request, about 50 requests/s in all. The monitor runs at its default priority and checks every 10 s, so a leak per
check shows too. Every 30 s the script samples the memory of the service's process tree (`driftline serve`, the
`bentoml serve` it starts and its workers, summed) and of the monitor's, with psutil: PSS (each shared page split
among the processes sharing it, so sums are fair) and RSS. The first minute is warm-up; growth is measured from the
sample at its end to the last one. Target: under 10 % for both.

Usage: `make soak` (10 minutes after the warm-up), or `python bench/soak.py --minutes 2` while developing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    Sample,
    answered_ids,
    check_counts,
    compare_with_log,
    finish_wrk,
    prepare_stack,
    service_and_monitor,
    start_wrk,
    tree_memory,
    wait_until_logged,
    write_row_pool,
)
from bench.serving import progress  # noqa: E402
from driftline.core import Store  # noqa: E402

TARGET_GROWTH = 0.10


def growth(start: float, end: float) -> float:
    return (end - start) / start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10, help="measured minutes, after the warm-up")
    parser.add_argument("--warmup-seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=50, help="requests per second to aim at (both routes)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--sample-seconds", type=int, default=30)
    args = parser.parse_args()
    setup = prepare_stack("driftline-soak-", check_seconds=10)
    rows_file, out = setup.work / "rows.tsv", setup.work / "answered"
    write_row_pool(setup, rows_file)
    total = args.warmup_seconds + round(args.minutes * 60)
    # each connection waits this long before each request, so the rate stays just under the aim
    delay_ms = round(1000 * args.connections / args.rate)
    series: list[tuple[float, Sample, Sample]] = []
    store = Store(setup.env["DRIFTLINE_STORE__URL"])
    with service_and_monitor(setup) as stack:
        progress(f"soak: {args.connections} connections, {delay_ms} ms between requests, {total} s in all")
        wrk = start_wrk(stack.url, rows_file, out, seconds=total + 5, connections=args.connections, delay_ms=delay_ms)
        started = time.monotonic()
        for at in range(0, total + 1, args.sample_seconds):
            time.sleep(max(0.0, started + at - time.monotonic()))
            series.append((at, tree_memory(stack.service.pid), tree_memory(stack.monitor.pid)))
            service, monitor = series[-1][1], series[-1][2]
            progress(f"+{at:4d} s  service PSS {service.pss:7.1f} MiB  monitor PSS {monitor.pss:7.1f} MiB")
        result = finish_wrk(wrk, timeout=120)
        checks = check_counts(stack.monitor_url)
        answered = answered_ids(out)
        logged, _ = wait_until_logged(store, answered)
    counts = compare_with_log(answered, logged)
    store.dispose()
    subprocess.run(["rm", "-rf", str(setup.work)], check=False)
    return report(args, series, result, counts, checks)


def report(
    args: argparse.Namespace,
    series: list[tuple[float, Sample, Sample]],
    result: dict[str, float],
    counts: dict[str, int],
    checks: dict[str, float],
) -> int:
    seconds = result["duration_us"] / 1e6
    print("\n| seconds | service PSS MiB | service RSS MiB | processes | monitor PSS MiB | monitor RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|")
    for at, service, monitor in series:
        print(
            f"| {at:.0f} | {service.pss:.1f} | {service.rss:.1f} | {len(service.pids)} | {monitor.pss:.1f} | "
            f"{monitor.rss:.1f} |"
        )
    baseline = next(entry for entry in series if entry[0] >= args.warmup_seconds)
    end = series[-1]
    print(f"\n| from +{baseline[0]:.0f} s to +{end[0]:.0f} s | start MiB | end MiB | growth | target |")
    print("|---|---:|---:|---:|---:|")
    failures = []
    for name, first, last in (("service", baseline[1], end[1]), ("monitor", baseline[2], end[2])):
        for kind in ("pss", "rss"):
            start_mib, end_mib = getattr(first, kind), getattr(last, kind)
            change = growth(start_mib, end_mib)
            target = f"< {TARGET_GROWTH:.0%}" if kind == "pss" else "-"
            print(f"| {name} {kind.upper()} | {start_mib:.1f} | {end_mib:.1f} | {change:+.1%} | {target} |")
            if kind == "pss" and change >= TARGET_GROWTH:
                failures.append(f"{name} PSS grew {change:+.1%}")
        if first.pids != last.pids:
            failures.append(f"the {name}'s processes changed: {first.pids} -> {last.pids}")
    print(f"\n| traffic over {seconds:.0f} s | value |\n|---|---:|")
    print(f"| requests/s (both routes) | {result['requests'] / seconds:.1f} |")
    print(f"| /predict requests / rows | {result['predict_requests']:,.0f} / {result['predict_rows']:,.0f} |")
    print(
        f"| /feedback requests / labels recorded | {result['feedback_requests']:,.0f} / "
        f"{result['feedback_recorded']:,.0f} |"
    )
    print(f"| latency p50 / p99, ms | {result['p50_us'] / 1000:.1f} / {result['p99_us'] / 1000:.1f} |")
    print(f"| non-2xx / socket errors | {result['non2xx']:.0f} / {result['socket_errors']:.0f} |")
    print(f"| answered request_ids missing from the log | {counts['missing']} of {counts['answered']:,} |")
    print(f"| drift checks by outcome | { ({k: int(v) for k, v in checks.items() if v}) } |")
    if result["non2xx"] or result["socket_errors"] or counts["missing"]:
        failures.append("failed requests or lost records")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
