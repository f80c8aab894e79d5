"""Shadow benchmark: /predict throughput and p99 latency at 16 connections with a shadow loaded, against the same
service without one, in alternating runs on one server (the shadow is started and ended in the store between runs,
and every worker follows it within `serving.poll_seconds`).

The targets: with a shadow, at least 0.85 of the throughput and at most 1.2 times the p99. Prints a Markdown table.
Usage: `python bench/shadow.py --seconds 15`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.serving import prepare, progress, running, wrk  # noqa: E402
from driftline.core import load_settings  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
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
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with running([sys.executable, "-m", "driftline.cli", "serve", "--port", str(port)], setup.env, url, "/readyz"):
        wrk(f"{url}/predict", setup.body, 16, 3)  # warm-up
        for _ in range(args.rounds):
            for shadowed in (False, True):
                running_shadow = store.active_shadow()
                if shadowed:
                    store.start_shadow(
                        shadow.version,
                        champion_version=setup.version.version,
                        purpose="candidate",
                        needed_rows=10**6,
                        reason="benchmark",
                    )
                elif running_shadow is not None:
                    store.finish_shadow(running_shadow["id"], status="rejected", reason="benchmark round over")
                time.sleep(POLL_SECONDS * 4)  # every worker has followed the change
                progress(f"16 connections for {args.seconds} s, shadow {'on' if shadowed else 'off'}")
                results[shadowed].append(wrk(f"{url}/predict", setup.bodies, 16, args.seconds))
    report(results)


def report(results: dict[bool, list[dict[str, float]]]) -> None:
    def median(shadowed: bool, key: str) -> float:
        return statistics.median(run[key] for run in results[shadowed])

    print("| /predict, 2 workers, 16 connections | requests/s | p99 ms | failed |")
    print("|---|---|---|---|")
    for shadowed in (False, True):
        failed = sum(run["failed"] for run in results[shadowed])
        name = "with a shadow" if shadowed else "without a shadow"
        print(f"| {name} | {median(shadowed, 'rps'):.0f} | {median(shadowed, 'p99_ms'):.1f} | {failed:.0f} |")
    throughput = median(True, "rps") / median(False, "rps")
    p99 = median(True, "p99_ms") / median(False, "p99_ms")
    print(f"\nthroughput ratio {throughput:.2f} (target >= 0.85), p99 ratio {p99:.2f} (target <= 1.2)")


if __name__ == "__main__":
    main()
