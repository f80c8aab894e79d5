"""`driftline demo`: the whole story on the real flights data, in a few minutes, on 127.0.0.1.

Version 1 trains on January-February 2013 and serves March onward; every 8th held-out flight is replayed in time
order with its true label a few seconds later; the monitor checks every few seconds, retrains when the drift
persists, and promotes only a better model. The replay prints the live accuracy and ROC AUC per month with the
versions that answered; `driftline status` then shows every promotion and rejection with its evidence.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

DEMO_SETTINGS = {
    "DRIFTLINE_MONITORING__WINDOW_ROWS": "1500",
    "DRIFTLINE_MONITORING__MIN_ROWS": "500",
    "DRIFTLINE_MONITORING__SAMPLE_ROWS": "1500",
    "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "5",
    "DRIFTLINE_RETRAIN__CONSECUTIVE_WINDOWS": "2",
    "DRIFTLINE_RETRAIN__COOLDOWN_SECONDS": "45",
    "DRIFTLINE_RETRAIN__MIN_LABELED_ROWS": "1500",
    "DRIFTLINE_RETRAIN__LIVE_ROWS": "4000",
    "DRIFTLINE_SERVING__WORKERS": "1",
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
    processes = [
        subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, start_new_session=True),
        subprocess.Popen([*cli, "monitor", "--port", str(monitor_port)], env=env, start_new_session=True),
    ]
    try:
        _wait_ready(f"http://127.0.0.1:{port}/readyz")
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
        subprocess.run([*cli, "status"], env=env)
        return code
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


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
