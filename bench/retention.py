"""Retention benchmarks: the store's size over simulated days with a 1-day retention, and the prediction log's write
latency with and without a pruning running.

`size`: five simulated days of traffic written straight into a fresh store the way the service's log writes it
(1000-row batches of real flights rows, half of them labelled), with the clock simulated: every row carries its
simulated time and the monitor's real pruning job (`retrain.pruning.Pruner`) runs every two simulated hours with
`now` set to the simulated time, under `retention.predictions_days: 1`. Prints the store's size at every
simulated half day. Labels arrive in real time, so `labels_days` is set out of the way: labels leave with their
predictions here.

`latency`: a store holding a backlog of rows past retention; a writer inserts 1000-row batches (the service's log
batch) every 100 ms and times each, first alone, then while a pruning of the backlog runs in another process with
the default batch settings.

Usage: `python bench/retention.py size [--postgres]`, `python bench/retention.py latency [--postgres]`.
Runs take a minute or two each; pass `--rows-per-day` or `--backlog` to make them shorter or longer.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import progress  # noqa: E402
from driftline.core import Registry, Settings, Store, load_dataset, load_settings, plan_pruning  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from monitoring import MonitorMetrics, ReportArchive  # noqa: E402
from retrain.pruning import Pruner  # noqa: E402
from tests.processes import postgres_server  # noqa: E402

DAY = 86_400.0
BATCH = 1000  # the service's `serving.log_batch_size`


@contextmanager
def store_url(postgres: bool, work: Path) -> Iterator[str]:
    """A fresh SQLite file in `work`, or a fresh database on a throwaway PostgreSQL server."""
    if not postgres:
        yield f"sqlite:///{work / 'store.db'}"
        return
    with postgres_server() as admin_url:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"


def size_mib(store: Store) -> dict[str, float]:
    """The store's size on disk (MiB), and the part holding live rows."""
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            total = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
            return {"on_disk": total / 2**20, "in_use": total / 2**20}
        page = conn.execute(sa.text("PRAGMA page_size")).scalar_one()
        pages = conn.execute(sa.text("PRAGMA page_count")).scalar_one()
        free = conn.execute(sa.text("PRAGMA freelist_count")).scalar_one()
    path = Path(store.url.removeprefix("sqlite:///"))
    wal = path.with_name(path.name + "-wal")
    on_disk = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return {"on_disk": on_disk / 2**20, "in_use": (pages - free) * page / 2**20}


def flights_payloads(count: int = 2000) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Real held-out flights rows as logged features, each with an output shaped like the service's."""
    settings = load_settings(DEFAULT_CONFIG)
    live = load_dataset(settings.data).live
    features = live[settings.data.features.numeric + settings.data.features.categorical]  # type: ignore[union-attr]
    rows = features.sample(n=count, random_state=0).astype(object)
    records = rows.where(rows.notna(), None).to_dict("records")
    return [
        ({str(k): v for k, v in row.items()}, {"prediction": i % 2, "probabilities": {"0": 0.61, "1": 0.39}})
        for i, row in enumerate(records)
    ]


def records(payloads: list[tuple[dict[str, Any], dict[str, Any]]], start: int, count: int, at: float) -> list[Any]:
    return [
        {
            "request_id": f"s{start + i}",
            "created_at": at,
            "model_version": 1,
            "features": payloads[(start + i) % len(payloads)][0],
            "output": payloads[(start + i) % len(payloads)][1],
            "latency_ms": 1.0,
        }
        for i in range(count)
    ]


def production_store(url: str, work: Path) -> Registry:
    """A store with a version 1 row in production (its files are never read here)."""
    store = Store(url)
    version = store.add_version(
        name="bench", artifact_dir="none", artifact_tag="bench:none", hashes={}, schema={}, details={}
    )
    store.promote(version, kind="initial", reason="bench")
    return Registry(store, work / "bentoml")


def simulate_days(postgres: bool, days: int, rows_per_day: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="driftline-retention-"))
    payloads = flights_payloads()
    with store_url(postgres, work) as url:
        registry = production_store(url, work)
        settings = Settings(retention={"predictions_days": 1.0, "labels_days": 1000.0})
        pruner = Pruner(settings, registry, ReportArchive(work / "reports", keep=20), MonitorMetrics())
        start, written, pruned = time.time(), 0, 0
        per_batch_seconds = DAY / (rows_per_day / BATCH)
        next_prune, next_sample = 2 * 3600.0, 0.0
        rows: list[dict[str, Any]] = []
        while written < days * rows_per_day:
            elapsed = written / BATCH * per_batch_seconds
            if elapsed >= next_sample:
                sizes = size_mib(registry.store)
                rows.append(
                    {
                        "day": elapsed / DAY,
                        "rows": registry.store.count_predictions(),
                        "labels": registry.store.count_feedback(),
                        **sizes,
                    }
                )
                progress(f"day {elapsed / DAY:.1f}: {rows[-1]}")
                next_sample += DAY / 2
            batch = records(payloads, written, BATCH, start + elapsed)
            registry.store.insert_predictions(batch)
            registry.store.record_feedback({r["request_id"]: 1 for r in batch[::2]})
            written += BATCH
            if elapsed >= next_prune:
                pruned += pruner.run(now=start + elapsed).get("predictions", 0)
                next_prune += 2 * 3600.0
        registry.store.dispose()
    kind = "PostgreSQL" if postgres else "SQLite"
    print(f"\n{kind}, {rows_per_day:,} rows per simulated day, retention 1 day, {pruned:,} predictions pruned\n")
    print("| simulated day | predictions | labels | on disk MiB | in use MiB |\n|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['day']:.1f} | {row['rows']:,} | {row['labels']:,} | {row['on_disk']:.1f} | {row['in_use']:.1f} |"
        )


def prune_backlog(url: str, done: Any) -> None:
    """The pruning of `latency`, in a process of its own as in the monitor: default batch size and pause."""
    store = Store(url)
    settings = Settings()
    plan_started = time.monotonic()
    deleted = store.prune_predictions(
        before=time.time() - DAY,
        below_id=None,
        protected=plan_pruning(store, settings).protected,
        batch_rows=settings.retention.batch_rows,
        pause_seconds=settings.retention.batch_pause_seconds,
    )
    done.put({"deleted": deleted.get("predictions", 0), "seconds": time.monotonic() - plan_started})
    store.dispose()


def timed_writes(store: Store, payloads: list[Any], first: int, seconds: float, until: Any = None) -> list[float]:
    """Insert a 1000-row batch every 100 ms for `seconds` (or until `until()` is true); each insert's milliseconds."""
    took, n, deadline = [], first, time.monotonic() + seconds
    while time.monotonic() < deadline and not (until is not None and until()):
        began = time.perf_counter()
        store.insert_predictions(records(payloads, n, BATCH, time.time()))
        took.append((time.perf_counter() - began) * 1000)
        n += BATCH
        time.sleep(max(0.0, 0.1 - took[-1] / 1000))
    return took


def write_latency(postgres: bool, backlog: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="driftline-retention-"))
    payloads = flights_payloads()
    with store_url(postgres, work) as url:
        registry = production_store(url, work)
        store = registry.store
        progress(f"writing a backlog of {backlog:,} rows past retention")
        for start in range(0, backlog, 10 * BATCH):
            store.insert_predictions(records(payloads, start, 10 * BATCH, time.time() - 3 * DAY))
        alone = timed_writes(store, payloads, backlog, 15)
        done: Any = multiprocessing.get_context("spawn").Queue()
        pruning = multiprocessing.get_context("spawn").Process(target=prune_backlog, args=(url, done))
        pruning.start()
        during = timed_writes(store, payloads, backlog + 10**7, 60, until=lambda: not pruning.is_alive())
        pruning.join()
        result = done.get(timeout=10)
        store.dispose()

    def summary(values: list[float]) -> str:
        cuts = statistics.quantiles(values, n=100)
        return f"{len(values)} | {statistics.median(values):.1f} | {cuts[98]:.1f} | {max(values):.1f}"

    kind = "PostgreSQL" if postgres else "SQLite"
    print(f"\n{kind}: pruning deleted {result['deleted']:,} rows in {result['seconds']:.1f} s\n")
    print("| 1000-row log writes | batches | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|")
    print(f"| no pruning | {summary(alone)} |\n| while pruning | {summary(during)} |")
    ratio = statistics.quantiles(during, n=100)[98] / statistics.quantiles(alone, n=100)[98]
    print(f"\np99 while pruning / p99 alone: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["size", "latency"])
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--backlog", type=int, default=300_000)
    args = parser.parse_args()
    if args.kind == "size":
        simulate_days(args.postgres, args.days, args.rows_per_day)
    else:
        write_latency(args.postgres, args.backlog)


if __name__ == "__main__":
    main()
