"""`driftline demo`: the whole story on the real flights data, in a few minutes, on 127.0.0.1.

Version 1 trains on January-February 2013 and serves March onward; every 8th held-out flight is replayed in time
order with its true label a few seconds later; the monitor checks every few seconds and retrains when the drift
persists. A candidate that beats the champion on its holdout first runs as the shadow on live requests
(`shadow_rows`), is promoted only if it wins on those too, and is then watched against the version it replaced
(`watch_rows`), which the monitor rolls back to if the new one does worse. The demo prints each phase as it
starts and ends; the replay prints the live accuracy and ROC AUC per month with the versions that answered;
`driftline status` then shows every promotion, rejection and shadow decision with its evidence.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from driftline.core import ShadowRow, Store

DEMO_SETTINGS = {
    "DRIFTLINE_MONITORING__WINDOW_ROWS": "1500",
    "DRIFTLINE_MONITORING__MIN_ROWS": "500",
    "DRIFTLINE_MONITORING__SAMPLE_ROWS": "1500",
    "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "5",
    "DRIFTLINE_RETRAIN__CONSECUTIVE_WINDOWS": "2",
    "DRIFTLINE_RETRAIN__COOLDOWN_SECONDS": "45",
    # a holdout of a few thousand labelled rows, so a real gain stands out of the bootstrap's noise
    "DRIFTLINE_RETRAIN__MIN_LABELED_ROWS": "3000",
    "DRIFTLINE_RETRAIN__LIVE_ROWS": "8000",
    # candidates learn mostly from the new season, as the retrain end-to-end tests that promote through a shadow do
    "DRIFTLINE_RETRAIN__REFERENCE_FRACTION": "0.2",
    "DRIFTLINE_SERVING__WORKERS": "1",
    # ten months replayed in two minutes: a monitor yielding every core to the rest of the machine falls behind
    "DRIFTLINE_MONITORING__NICENESS": "0",
    # at the replay's pace (300 labelled requests a second) each phase takes a few seconds of it, a check or two
    "DRIFTLINE_RETRAIN__SHADOW_ROWS": "1000",
    "DRIFTLINE_RETRAIN__SHADOW_MAX_SECONDS": "120",
    "DRIFTLINE_RETRAIN__WATCH_ROWS": "1000",
}


def demo_env(folder: Path, config: Path, *, with_loop: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(DEMO_SETTINGS)
    env.update(
        {
            "DRIFTLINE_CONFIG": str(config.resolve()),
            "DRIFTLINE_STORE__URL": f"sqlite:///{folder / 'store.db'}",
            "DRIFTLINE_STORE__MODEL_DIR": str(folder / "bentoml"),
            "DRIFTLINE_MONITORING__REPORTS_DIR": str(folder / "reports"),
        }
    )
    if not with_loop:
        env["DRIFTLINE_RETRAIN__MIN_LABELED_ROWS"] = str(10**9)
    return env


def run_demo(
    config: Path,
    folder: Path,
    *,
    port: int,
    monitor_port: int,
    every: int,
    rows_per_second: float,
    with_loop: bool = True,
    first_model_rows: int | None = None,
) -> int:
    """Train v1, start the service and the monitor, replay March-December, print the timeline and status."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    env = demo_env(folder, config, with_loop=with_loop)
    cli = [sys.executable, "-m", "driftline.cli"]
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    say("[demo] training version 1 on January-February 2013")
    train_env = {**env, "DRIFTLINE_DATA__MAX_ROWS": str(first_model_rows)} if first_model_rows else env
    subprocess.run([*cli, "train"], env=train_env, check=True)
    phases = PhasePrinter(env["DRIFTLINE_STORE__URL"], say)
    processes = [
        subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, start_new_session=True),
        subprocess.Popen([*cli, "monitor", "--port", str(monitor_port)], env=env, start_new_session=True),
    ]
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz")
        phases.start()
        say(
            f"[demo] replaying every {every}th flight from March on at {rows_per_second:.0f} rows/s; "
            f"monitor reports at http://127.0.0.1:{monitor_port}/reports/"
        )
        code = subprocess.run(
            [
                *cli,
                "replay",
                "--url",
                f"http://127.0.0.1:{port}",
                "--every",
                str(every),
                "--rows-per-second",
                str(rows_per_second),
                "--label-delay",
                "2",
            ],
            env=env,
        ).returncode
        time.sleep(6)  # one more check of the last window
        phases.stop()
        subprocess.run([*cli, "status"], env=env)
        return code
    finally:
        phases.stop()
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class PhasePrinter:
    """Prints each shadow and watch as it starts and as it ends, read from the demo's store once a second."""

    def __init__(self, store_url: str, say: Callable[[str], None]) -> None:
        self._store_url = store_url
        self._say = say
        self._seen: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-phases", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        store = Store(self._store_url)
        try:
            while not self._stop.wait(1.0):
                try:
                    shadows = store.shadow_history(limit=5)
                except Exception:  # a busy SQLite file is read again a second later
                    continue
                for shadow in reversed(shadows):  # oldest first, so phases print in the order they happened
                    if self._seen.get(shadow["id"]) != shadow["status"]:
                        self._seen[shadow["id"]] = shadow["status"]
                        self._say(phase_line(shadow))
        finally:
            store.dispose()


def phase_line(shadow: ShadowRow) -> str:
    """One shadow's start, or its end with the decision's reason, as the demo prints it."""
    version, champion = shadow["version"], shadow["champion_version"]
    if shadow["purpose"] == "candidate":
        doing = f"shadow: candidate v{version} predicts beside v{champion}"
    else:
        doing = f"watch: v{champion} was promoted; v{version}, which it replaced, predicts beside it"
    if shadow["status"] == "running":
        return f"[demo] {doing} until {shadow['needed_rows']} of those requests have labels"
    decided, reason = shadow["status"].replace("_", " "), shadow["reason"] or ""
    # most reasons start with the decision already ("promoted: gain …"); a timeout's or a failure's do not
    return f"[demo] {doing}: {reason if reason.startswith(decided) else f'{decided}: {reason}'}"


def _wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready")
