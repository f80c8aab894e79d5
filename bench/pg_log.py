"""The prediction log on PostgreSQL: the rows/s the service logs with 2 workers, and a drift check on a 10M-row log.

`throughput`: the real service (`driftline serve`, 2 workers) on a throwaway PostgreSQL server, driven by wrk with
20-row /predict requests of real held-out flights rows at a few connection counts. For each run: rows answered
per second, rows in the log once it has drained, records dropped (`driftline_prediction_log_dropped_total`) and
how long the log took to catch up after wrk stopped. Target: at least 5,000 rows/s logged with nothing dropped.

`writers`: the log alone, with no model or HTTP in the way: two processes (as two workers) each write 1000-row
batches of real flights rows through `Store.insert_predictions`, the call the service's background writer makes,
as fast as they can for `--seconds`.

`check`: a 10,000,000-row log built on the server itself: 2,000 real predictions logged through the store, then
copied by one `INSERT ... SELECT` over `generate_series` (row g takes the features and output of seed row
g mod 2000, a time 1 ms after row g-1, and every tenth row gets a label), then `ANALYZE`. Then the first check of
a new monitor (`DriftChecker.run`: window ids, the sample, Evidently, quality, live performance), timed, with the
default 5,000-row window and with a 100,000-row one. Target: under 2 s.

The server runs with `fsync=off` (the test suite's throwaway server), which flatters write throughput against a
durable production server. Usage: `python bench/pg_log.py throughput [--seconds 15]`, `python bench/pg_log.py writers`,
`python bench/pg_log.py check [--rows 10000000]`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import dropped_records  # noqa: E402
from bench.retention import BATCH, flights_payloads, records, store_url  # noqa: E402
from bench.serving import prepare, progress, running, wrk  # noqa: E402
from driftline.core import (  # noqa: E402
    Registry,
    Store,
    load_dataset,
    load_settings,
    plan_pruning,
    prediction_records,
)
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from monitoring import DriftChecker  # noqa: E402
from retrain import train  # noqa: E402
from tests.processes import free_port  # noqa: E402

ROWS_PER_REQUEST = 20
SEED_ROWS = 2000


def throughput(seconds: int, connections: list[int]) -> None:
    with store_url(True, Path(tempfile.mkdtemp(prefix="driftline-pglog-"))) as url:
        setup = prepare(
            "driftline-pglog-", {"DRIFTLINE_STORE__URL": url, "DRIFTLINE_MODEL__PARAMS": '{"max_iter": 50}'}
        )
        rows = [json.loads(line) for line in setup.bodies.read_text().splitlines()]
        bodies = setup.work / "rows20.jsonl"
        bodies.write_text(
            "\n".join(json.dumps(rows[i : i + ROWS_PER_REQUEST]) for i in range(0, len(rows) - ROWS_PER_REQUEST, 7))
            + "\n"
        )
        store = setup.registry.store
        port = free_port()
        service = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)]
        results = []
        with running(command, setup.env, service, "/readyz"):
            wrk(service + "/predict", bodies, 4, 3)  # warm-up
            time.sleep(3)
            for count in connections:
                before, dropped_before = store.count_predictions(), dropped_records(service)
                result = wrk(service + "/predict", bodies, count, seconds)
                stopped = time.monotonic()
                answered = round(result["rps"] * seconds) * ROWS_PER_REQUEST
                logged = store.count_predictions() - before
                while logged < answered and time.monotonic() - stopped < 60:
                    time.sleep(0.2)
                    logged = store.count_predictions() - before
                results.append(
                    {
                        "connections": count,
                        "answered_rows_s": result["rps"] * ROWS_PER_REQUEST,
                        "logged": logged,
                        "logged_rows_s": logged / seconds,
                        "dropped": dropped_records(service) - dropped_before,
                        "catch_up_s": time.monotonic() - stopped,
                        "p99_ms": result["p99_ms"],
                        "failed": result["failed"],
                    }
                )
                progress(str(results[-1]))
        store.dispose()
    print(f"\nPostgreSQL, 2 workers, {ROWS_PER_REQUEST}-row /predict requests, {seconds} s per run\n")
    print(
        "| connections | rows/s answered | rows logged | rows/s logged | dropped | log caught up after s "
        "| p99 ms | failed |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for r in results:
        print(
            f"| {r['connections']} | {r['answered_rows_s']:,.0f} | {r['logged']:,} | {r['logged_rows_s']:,.0f} "
            f"| {r['dropped']:.0f} | {r['catch_up_s']:.1f} | {r['p99_ms']:.1f} | {r['failed']} |"
        )


def write_for(url: str, worker: int, seconds: float, done: Any) -> None:
    """One worker's log writer at full speed: 1000-row batches (`serving.log_batch_size`) of real flights rows,
    through `Store.insert_predictions`, the call the service's background writer makes."""
    store, payloads = Store(url), flights_payloads()
    written, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        store.insert_predictions(records(payloads, worker * 10**8 + written, BATCH, time.time()))
        written += BATCH
    store.dispose()
    done.put(written)


def writers(seconds: int, count: int) -> None:
    """The log alone: `count` processes writing as the service's workers do, with no model or HTTP in the way."""
    with store_url(True, Path(tempfile.mkdtemp(prefix="driftline-pglog-"))) as url:
        Store(url).dispose()  # the tables, before the writers race to create them
        context = multiprocessing.get_context("spawn")
        done: Any = context.Queue()
        processes = [context.Process(target=write_for, args=(url, i, seconds, done)) for i in range(count)]
        for process in processes:
            process.start()
        written = sum(done.get(timeout=seconds + 120) for _ in processes)
        for process in processes:
            process.join()
    print(f"\nPostgreSQL, {count} writer processes, 1000-row batches, {seconds} s: {written / seconds:,.0f} rows/s")


def build_log(url: str, work: Path, rows: int) -> Registry:
    """Train the flights model (fewer trees: only its outputs matter), log the seed rows, copy them on the server."""
    os.environ.update(
        {
            "DRIFTLINE_STORE__URL": url,
            "DRIFTLINE_STORE__MODEL_DIR": str(work / "bentoml"),
            "DRIFTLINE_MODEL__PARAMS": '{"max_iter": 50}',
            "DRIFTLINE_MONITORING__REPORTS_DIR": str(work / "reports"),
        }
    )
    settings = load_settings(DEFAULT_CONFIG)
    registry = Registry(Store(url), settings.store.model_dir)
    version = train(settings, registry, trigger="bench").version
    model = registry.load(version.version)
    live = load_dataset(settings.data).live
    sample = live[list(model.schema.features)].sample(SEED_ROWS, random_state=2).astype(object)
    records = sample.where(sample.notna(), None).to_dict("records")
    registry.store.insert_predictions(
        prediction_records(
            [f"seed{i}" for i in range(SEED_ROWS)],
            records,
            model.predict_rows(records),
            model_version=version.version,
            created_at=time.time() - 86_400,
            latency_ms=1.0,
        )
    )
    progress(f"copying the {SEED_ROWS:,} seed rows into {rows:,} on the server")
    started = time.monotonic()
    chunk = 1_000_000
    with registry.store.engine.connect() as conn:
        for first in range(1, rows + 1, chunk):
            last = min(first + chunk - 1, rows)
            conn.execute(
                sa.text(
                    "INSERT INTO predictions (request_id, created_at, model_version, features, output, latency_ms) "
                    "SELECT 'g' || g, :t0 + g * 0.001, :version, s.features, s.output, 1.0 "
                    "FROM generate_series(:first, :last) AS g "
                    "JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS k, features, output FROM predictions "
                    "      WHERE request_id LIKE 'seed%') AS s ON s.k = g % :seed"
                ),
                {
                    "t0": time.time() - rows * 0.001,
                    "version": version.version,
                    "first": first,
                    "last": last,
                    "seed": SEED_ROWS,
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO feedback (request_id, label, received_at) "
                    "SELECT 'g' || g, CAST(CASE WHEN random() < 0.25 THEN '1' ELSE '0' END AS json), :now "
                    "FROM generate_series(:first, :last) AS g WHERE g % 10 = 0"
                ),
                {"now": time.time(), "first": first, "last": last},
            )
            conn.commit()
            progress(f"{last:,} rows after {time.monotonic() - started:.0f} s")
        conn.execute(sa.text("ANALYZE"))
        conn.commit()
    progress(f"log built in {time.monotonic() - started:.0f} s")
    return registry


def check(rows: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="driftline-pglog-"))
    with store_url(True, work) as url:
        registry = build_log(url, work, rows)
        with registry.store.engine.connect() as conn:
            size = conn.execute(sa.text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
            logged = conn.execute(sa.text("SELECT count(*) FROM predictions")).scalar_one()
        timings = []
        for window in (5000, 100_000):
            settings = load_settings(DEFAULT_CONFIG)
            settings.monitoring.window_rows = window
            DriftChecker(settings, registry).run()  # imports Evidently once; warms the server's caches
            checker = DriftChecker(settings, registry)  # a new monitor's first check: it keeps nothing from before
            started = time.perf_counter()
            result = checker.run()
            timings.append((window, time.perf_counter() - started, result.window.rows, result.outcome))
        started = time.perf_counter()
        plan_pruning(registry.store, load_settings(DEFAULT_CONFIG))  # what a pruning reads before deleting anything
        planning = time.perf_counter() - started
        registry.store.dispose()
    print(f"\nPostgreSQL log of {logged:,} predictions ({size} database)\n")
    print("| window rows | check seconds | rows in window | outcome |\n|---:|---:|---:|---|")
    for window, seconds, in_window, outcome in timings:
        print(f"| {window:,} | {seconds:.2f} | {in_window:,} | {outcome} |")
    print(f"\nPlanning a pruning (window, retrain rows, row cap, versions): {planning:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["throughput", "writers", "check"])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", default="8,16,32")
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.kind == "throughput":
        throughput(args.seconds, [int(c) for c in args.connections.split(",")])
    elif args.kind == "writers":
        writers(args.seconds, 2)
    else:
        check(args.rows)


if __name__ == "__main__":
    main()
