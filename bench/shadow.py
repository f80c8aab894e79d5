"""Shadow benchmark: /predict throughput and p99 latency at 16 connections with a shadow loaded, against the same
service without one, in alternating runs on one server (the shadow is started and ended in the store between runs,
and every worker follows it within `serving.poll_seconds`).

The targets: with a shadow, at least 0.85 of the throughput and at most 1.2 times the p99. The shadow predicts
only on spare capacity (`service/shadow_runner.py`), so the tables also give the share of answered rows it
predicted, at 16 connections and under a paced load (4 connections pausing 20 ms). Prints Markdown tables.
Usage: `python bench/shadow.py --seconds 15`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import prepare, progress, running, wrk  # noqa: E402
from driftline.core import Store, load_settings  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from driftline.core.store import shadow_predictions  # noqa: E402
from retrain import train  # noqa: E402
from tests.processes import free_port  # noqa: E402

POLL_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs, without and with the shadow")
    args = parser.parse_args()
    setup = prepare("driftline-bench-shadow-", {"DRIFTLINE_SERVING__POLL_SECONDS": str(POLL_SECONDS)})
    store = setup.registry.store
    progress("training the shadow: a second version of the same model")
    # prepare() put the benchmark's store into the environment, which the settings read
    shadow = train(load_settings(DEFAULT_CONFIG), setup.registry, trigger="bench").version
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    loads = {"saturated": (16, 0), "paced": (4, 20)}  # connections, pause between a connection's requests (ms)
    results: dict[tuple[str, bool], list[dict[str, Any]]] = {(n, on): [] for n in loads for on in (False, True)}
    with running([sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)], setup.env, url, "/readyz"):
        wrk(f"{url}/predict", setup.body, 16, 3)  # warm-up
        for _ in range(args.rounds):
            for name, (connections, delay_ms) in loads.items():
                for shadowed in (False, True):
                    shadow_id = switch(store, shadowed, shadow.version, setup.version.version)
                    time.sleep(POLL_SECONDS * 4)  # every worker has followed the change
                    progress(
                        f"{name}: {connections} connections for {args.seconds} s, shadow {'on' if shadowed else 'off'}"
                    )
                    run = wrk(f"{url}/predict", setup.bodies, connections, args.seconds, delay_ms=delay_ms)
                    time.sleep(2)  # the shadow's queue and its log have flushed
                    run["shadowed_share"] = shadowed_rows(store, shadow_id) / max(1.0, run["rps"] * args.seconds)
                    results[(name, shadowed)].append(run)
        switch(store, False, shadow.version, setup.version.version)
    for name, (connections, delay_ms) in loads.items():
        report(name, connections, delay_ms, results)


def switch(store: Store, on: bool, shadow: int, champion: int) -> int | None:
    """End the running shadow; with `on`, start a fresh one (its rows counted apart); returns the running one's id."""
    running_shadow = store.active_shadow()
    if running_shadow is not None:
        store.finish_shadow(running_shadow["id"], status="rejected", reason="benchmark round over")
    if not on:
        return None
    return store.start_shadow(
        shadow, champion_version=champion, purpose="candidate", needed_rows=10**6, reason="benchmark"
    )


def shadowed_rows(store: Store, shadow_id: int | None) -> int:
    if shadow_id is None:
        return 0
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(shadow_predictions.c.shadow_id == shadow_id)
        return int(conn.execute(query).scalar_one())


def report(name: str, connections: int, delay_ms: int, results: dict[tuple[str, bool], list[dict[str, Any]]]) -> None:
    def median(shadowed: bool, key: str) -> float:
        return statistics.median(run[key] for run in results[(name, shadowed)])

    paced = f", each pausing {delay_ms} ms" if delay_ms else ""
    print(f"\n| /predict, 2 workers, {connections} connections{paced} | requests/s | p99 ms | rows shadowed | failed |")
    print("|---|---|---|---|---|")
    for shadowed in (False, True):
        failed = sum(run["failed"] for run in results[(name, shadowed)])
        share = f"{median(shadowed, 'shadowed_share'):.0%}" if shadowed else "-"
        print(
            f"| {'with a shadow' if shadowed else 'without a shadow'} | {median(shadowed, 'rps'):.0f} | "
            f"{median(shadowed, 'p99_ms'):.1f} | {share} | {failed:.0f} |"
        )
    throughput = median(True, "rps") / median(False, "rps")
    p99 = median(True, "p99_ms") / median(False, "p99_ms")
    print(f"\n{name}: throughput ratio {throughput:.2f} (target >= 0.85), p99 ratio {p99:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
