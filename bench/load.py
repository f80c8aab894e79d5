"""Load benchmark: does the service lose nothing and keep answering while saturated, checked and hot-swapped?

The real service (`driftline serve`, 2 workers) and the real monitor (`driftline monitor`, checking every 5 s) run
on a fresh store. wrk drives mixed traffic from its own process (bench/traffic.lua): POST /predict with 1-20 real
held-out flights rows, and POST /feedback with the true labels of rows answered at least 2 s earlier, by the
request_ids the service returned. A third of the way in, `driftline promote 2` makes an already-trained second version
production, so both workers swap models under load. Afterwards every request_id wrk received must be in the
prediction log, with the version its response named. The monitor's retraining is switched off (it would promote
versions by itself); its drift checks run as usual, at full priority here (`--monitor-niceness`, 0): at the default
niceness of 10, requests that saturate both cores starve the checks (in a 20 s run, none completed).

Exit code 1 when a target fails: a non-2xx response, a socket error, an answered request_id missing from the log,
or version 2 never served. Usage: `make load` (or `python bench/load.py --seconds 20` while developing).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import Prepared, prepare, progress, running  # noqa: E402
from driftline.core import Store, load_settings  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from driftline.core.store import feedback, predictions  # noqa: E402
from retrain import train  # noqa: E402
from tests.processes import free_port  # noqa: E402

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    """Memory of one process tree at one moment, in MiB."""

    pss: float
    rss: float
    pids: tuple[int, ...]


def tree_memory(root_pid: int) -> Sample:
    """PSS and RSS summed over a process and all its descendants (processes that end meanwhile are skipped)."""
    root = psutil.Process(root_pid)
    pss = rss = 0
    pids = []
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        pss += info.pss
        rss += info.rss
        pids.append(process.pid)
    return Sample(pss / MIB, rss / MIB, tuple(sorted(pids)))


TRAFFIC_SCRIPT = ROOT / "bench" / "traffic.lua"
POOL_ROWS = 5000
FEEDBACK_EVERY = 4  # every 4th request carries labels, when some are due
FEEDBACK_LAG_SECONDS = 2
MONITOR_ENV = {
    "DRIFTLINE_MONITORING__MIN_ROWS": "100",
    # a retrain would promote versions by itself and blur the one promotion under test
    "DRIFTLINE_RETRAIN__CONSECUTIVE_WINDOWS": "1000000",
}


@dataclass(frozen=True)
class Stack:
    """The running service and monitor of a benchmark, and where to reach them."""

    url: str
    monitor_url: str
    service: subprocess.Popen[bytes]
    monitor: subprocess.Popen[bytes]


def prepare_stack(prefix: str, check_seconds: int) -> Prepared:
    """A fresh store with the default model; the monitor checks every `check_seconds` and never retrains."""
    setup = prepare(prefix, {**MONITOR_ENV, "DRIFTLINE_MONITORING__INTERVAL_SECONDS": str(check_seconds)})
    setup.env["DRIFTLINE_MONITORING__REPORTS_DIR"] = str(setup.work / "reports")
    return setup


@contextmanager
def service_and_monitor(setup: Prepared) -> Iterator[Stack]:
    """`driftline serve` and `driftline monitor` on free ports, each in a session of its own, stopped on exit."""
    port, monitor_port = free_port(), free_port()
    url, monitor_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{monitor_port}"
    cli = [sys.executable, "-m", "driftline.cli"]
    with (
        running([*cli, "serve", "--port", str(port)], setup.env, url, "/readyz") as service,
        running([*cli, "monitor", "--port", str(monitor_port)], setup.env, monitor_url, "/healthz") as monitor,
    ):
        yield Stack(url, monitor_url, service, monitor)


def write_row_pool(setup: Prepared, path: Path, rows: int = POOL_ROWS) -> None:
    """Real held-out flights (March onwards) with their true labels: the rows wrk sends and the labels it returns."""
    target = load_settings(DEFAULT_CONFIG).data.target
    sample = setup.live.sample(n=rows, random_state=0)
    features = sample[list(setup.version.schema.features)].to_json(orient="records", lines=True).splitlines()
    labels = sample[target].astype(int).astype(str).tolist()
    path.write_text("".join(f"{label}\t{row}\n" for label, row in zip(labels, features, strict=True)))


def train_second_version(setup: Prepared) -> int:
    """Register a second version (fewer, larger boosting steps) next to the production one, without promoting it."""
    settings = load_settings(DEFAULT_CONFIG)
    settings.model.params = {**settings.model.params, "max_iter": 100, "learning_rate": 0.2}
    progress("training a second version to promote under load")
    outcome = train(settings, setup.registry, trigger="bench")
    if outcome.promoted:
        raise RuntimeError("the second version was promoted at once: the store was not fresh")
    return outcome.version.version


def start_wrk(
    url: str, rows_file: Path, out: Path, *, seconds: int, connections: int, delay_ms: int = 0
) -> subprocess.Popen[str]:
    """wrk with one connection per thread (see traffic.lua), in its own process; `finish_wrk` reads its result."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        "wrk",
        "-t",
        str(connections),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(TRAFFIC_SCRIPT),
        url,
        "--",
        str(rows_file),
        str(out),
        str(FEEDBACK_EVERY),
        str(delay_ms),
        str(FEEDBACK_LAG_SECONDS),
        "1",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=timeout)
    found = re.search(r"^JSON (\{.*\})$", stdout, re.MULTILINE)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed (exit {process.returncode}): {stderr.strip() or stdout.strip()}")
    result: dict[str, Any] = json.loads(found.group(1))
    result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write"))
    seen: dict[int, int] = {}
    for per_thread in result.pop("versions"):
        for version, count in per_thread.items():
            seen[int(version)] = seen.get(int(version), 0) + count
    result["versions"] = dict(sorted(seen.items()))
    return result


def answered_ids(out: Path) -> pd.DataFrame:
    """request_id and model_version of every row wrk got an answer for, from the files traffic.lua wrote."""
    frames = [
        pd.read_csv(path, sep=" ", names=["answered_version", "request_id"], dtype={"request_id": str})
        for path in sorted(out.glob("ids-*.txt"))
        if path.stat().st_size
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["answered_version", "request_id"])


def logged_predictions(store: Store) -> pd.DataFrame:
    query = sa.select(predictions.c.request_id, predictions.c.model_version, predictions.c.created_at)
    with store.engine.connect() as conn:
        return pd.DataFrame(conn.execute(query).all(), columns=["request_id", "model_version", "created_at"])


def wait_until_logged(store: Store, answered: pd.DataFrame, seconds: float = 60) -> tuple[pd.DataFrame, float]:
    """The prediction log once every answered id is in it (or `seconds` passed), and how long that took."""
    started = time.monotonic()
    wanted = set(answered["request_id"])
    while True:
        logged = logged_predictions(store)
        if wanted <= set(logged["request_id"]) or time.monotonic() - started > seconds:
            return logged, time.monotonic() - started
        time.sleep(1)


def labels_stored(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one())


def check_counts(monitor_url: str) -> dict[str, float]:
    """driftline_checks_total by outcome, from the monitor's /metrics."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{monitor_url}/metrics", timeout=10).text.splitlines():
        found = re.match(r'driftline_checks_total\{outcome="(\w+)"\} (\S+)', line)
        if found:
            counts[found.group(1)] = float(found.group(2))
    return counts


def dropped_records(url: str) -> float:
    """driftline_prediction_log_dropped_total summed over what the service's /metrics reports."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(m.group(1)) for m in re.finditer(r"^driftline_prediction_log_dropped_total\S* (\S+)$", text, re.M))


def compare_with_log(answered: pd.DataFrame, logged: pd.DataFrame) -> dict[str, int]:
    """Answered ids missing from the log, logged under another version than answered, and logged but not received."""
    joined = answered.merge(logged, on="request_id", how="left", indicator=True)
    found = joined[joined["_merge"] == "both"]
    return {
        "answered": len(answered),
        "unique_answered": answered["request_id"].nunique(),
        "logged": len(found),
        "missing": int((joined["_merge"] == "left_only").sum()),
        "other_version": int((found["model_version"] != found["answered_version"]).sum()),
        "logged_not_received": len(set(logged["request_id"]) - set(answered["request_id"])),
    }


def promotion_timeline(logged: pd.DataFrame, new_version: int, moved_at: float) -> list[str]:
    """Per worker (a request_id's prefix names its process): its last answer on the old version and its first on the
    new one, in seconds after the production pointer moved; then the rows answered before and after, by version."""
    lines = []
    worker = logged["request_id"].str.split("-").str[0]
    for prefix, rows in logged.groupby(worker):
        new = rows[rows["model_version"] == new_version]["created_at"]
        old = rows[rows["model_version"] != new_version]["created_at"]
        first_new = f"{new.min() - moved_at:+.2f} s" if len(new) else "never"
        last_old = f"{old.max() - moved_at:+.2f} s" if len(old) else "never"
        lines.append(f"| worker {prefix} | {last_old} | {first_new} |")
    for name, rows in (
        ("before", logged[logged["created_at"] < moved_at]),
        ("after", logged[logged["created_at"] >= moved_at]),
    ):
        by_version = ", ".join(f"v{v}: {n:,}" for v, n in rows["model_version"].value_counts().sort_index().items())
        lines.append(f"| rows answered {name} the pointer moved | {by_version or 'none'} | |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--monitor-niceness",
        type=int,
        default=0,
        help="the monitor's monitoring.niceness; at the default 10 a saturated machine starves its checks",
    )
    args = parser.parse_args()
    setup = prepare_stack("driftline-load-", check_seconds=5)
    setup.env["DRIFTLINE_MONITORING__NICENESS"] = str(args.monitor_niceness)
    new_version = train_second_version(setup)
    rows_file, out = setup.work / "rows.tsv", setup.work / "answered"
    write_row_pool(setup, rows_file)
    store = Store(setup.env["DRIFTLINE_STORE__URL"])
    with service_and_monitor(setup) as stack:
        checks_before = check_counts(stack.monitor_url)
        memory_before = tree_memory(stack.service.pid)
        progress(f"wrk: {args.connections} connections for {args.seconds} s; `driftline promote {new_version}` at 1/3")
        load_started = time.time()
        wrk = start_wrk(stack.url, rows_file, out, seconds=args.seconds, connections=args.connections)
        # a third of the way in: the CLI itself takes seconds to start on a saturated machine
        time.sleep(max(0.0, args.seconds / 3 - (time.time() - load_started)))
        promote = [sys.executable, "-m", "driftline.cli", "promote", str(new_version), "--reason", "load benchmark"]
        promote_started = time.monotonic()
        subprocess.run(promote, env=setup.env, cwd=ROOT, check=True, capture_output=True, timeout=120)
        promote_seconds = time.monotonic() - promote_started
        cpu_before = children_cpu_seconds()
        result = finish_wrk(wrk, timeout=args.seconds + 120)
        result["wrk_cpu_seconds"] = children_cpu_seconds() - cpu_before
        checks_after = check_counts(stack.monitor_url)
        memory_after = tree_memory(stack.service.pid)
        answered = answered_ids(out)
        logged, settle_seconds = wait_until_logged(store, answered)
        dropped = dropped_records(stack.url)
        result["labels_stored"] = labels_stored(store)
    counts = compare_with_log(answered, logged)
    moved_at = store.current_promotion()["at"]  # type: ignore[index]
    print(f"\n| {args.connections} connections, {result['duration_us'] / 1e6:.1f} s | value |\n|---|---:|")
    for name, value in summary_rows(result, counts, settle_seconds, dropped, checks_before, checks_after):
        print(f"| {name} | {value} |")
    print(f"| service PSS before / after the run (MiB) | {memory_before.pss:.0f} / {memory_after.pss:.0f} |")
    print(f"| production pointer moved at | +{moved_at - load_started:.1f} s |")
    print(
        f"| `driftline promote {new_version}` wall time (a new Python process on the loaded machine) | "
        f"{promote_seconds:.2f} s |"
    )
    print("\n| after the production pointer moved (+0 s) | last row on the old version | first row on the new |")
    print("|---|---:|---:|")
    for line in promotion_timeline(logged, new_version, moved_at):
        print(line)
    store.dispose()
    subprocess.run(["rm", "-rf", str(setup.work)], check=False)
    failures = check_targets(result, counts, new_version)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def children_cpu_seconds() -> float:
    """User + system CPU seconds of the children this process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def summary_rows(
    result: dict[str, Any],
    counts: dict[str, int],
    settle_seconds: float,
    dropped: float,
    checks_before: dict[str, float],
    checks_after: dict[str, float],
) -> list[tuple[str, str]]:
    seconds = result["duration_us"] / 1e6
    checks = {k: int(v - checks_before.get(k, 0)) for k, v in checks_after.items() if v - checks_before.get(k, 0)}
    labels = f"{result['feedback_requests']:,} / {result['feedback_items']:,} / {result['feedback_recorded']:,}"
    latency = f"{result['p50_us'] / 1000:.1f} / {result['p99_us'] / 1000:.1f} / {result['max_us'] / 1000:.0f}"
    return [
        ("requests answered", f"{result['requests']:,}"),
        ("requests/s", f"{result['requests'] / seconds:.0f}"),
        ("/predict requests / rows", f"{result['predict_requests']:,} / {result['predict_rows']:,}"),
        ("rows predicted/s", f"{result['predict_rows'] / seconds:.0f}"),
        ("/feedback requests / labels sent / labels recorded", labels),
        ("labels in the store's feedback table", f"{result['labels_stored']:,}"),
        ("latency p50 / p99 / max, ms (both routes)", latency),
        ("non-2xx responses", str(result["non2xx"])),
        ("socket errors (connect / read / write)", f"{result['connect']} / {result['read']} / {result['write']}"),
        ("responses whose row count differs from the request's", str(result["mismatched"])),
        ("rows answered, by version", ", ".join(f"v{v}: {n:,}" for v, n in result["versions"].items())),
        ("answered request_ids / found in the prediction log", f"{counts['answered']:,} / {counts['logged']:,}"),
        ("answered request_ids missing from the log", str(counts["missing"])),
        ("logged under another version than answered", str(counts["other_version"])),
        ("logged but not received (in flight when wrk stopped)", str(counts["logged_not_received"])),
        ("seconds until the log held every answered id", f"{settle_seconds:.1f}"),
        ("records the service counted as dropped", f"{dropped:.0f}"),
        ("drift checks completed during the run, by outcome", str(checks or "none")),
        ("CPU seconds used by wrk", f"{result['wrk_cpu_seconds']:.1f}"),
    ]


def check_targets(result: dict[str, Any], counts: dict[str, int], new_version: int) -> list[str]:
    failures = []
    if result["non2xx"]:
        failures.append(f"{result['non2xx']} non-2xx responses")
    if result["socket_errors"]:
        failures.append(f"{result['socket_errors']} socket errors")
    if counts["missing"] or counts["unique_answered"] != counts["answered"]:
        failures.append(f"{counts['missing']} answered request_ids missing from the prediction log")
    if counts["answered"] != result["predict_rows"]:
        failures.append(f"wrk counted {result['predict_rows']} rows but wrote {counts['answered']} ids")
    if result["versions"].get(new_version, 0) == 0:
        failures.append(f"version {new_version} was never served")
    if result["mismatched"]:
        failures.append(f"{result['mismatched']} responses did not match their request's row count")
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
