"""The flights stack the end-to-end retrain tests share: a trained model served by `driftline serve`, watched by
`driftline monitor`, fed by the replay of real flights with late labels, and clients calling it meanwhile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftline.cli.demo import demo_env
from driftline.cli.replay import replay
from driftline.core import Registry, Store, load_dataset, load_settings
from driftline.core.settings import DEFAULT_CONFIG
from tests.processes import free_port, start_driftline, stop_process_group, wait_for

# Noise alone clears the default bound (a gain above 0 at 0.99) in about 1 comparison of 100, and a replay makes
# about two. Here the gain's lower bound must clear 0.01 ROC AUC at 0.999: noise on the holdout (a few thousand rows,
# ROC AUC within about 0.02) gets there far more rarely, while an unguarded loop would promote it about half the time.
STRICT_GUARDRAIL = {
    "DRIFTLINE_RETRAIN__MIN_GAIN": "0.01",
    "DRIFTLINE_RETRAIN__CONFIDENCE": "0.999",
    "DRIFTLINE_RETRAIN__BOOTSTRAP_ROUNDS": "2000",
}


class Stack:
    def __init__(self, folder: Path, first_model_rows: int | None = None, **overrides: str) -> None:
        self.env = demo_env(folder, DEFAULT_CONFIG)
        if first_model_rows:
            self.env["DRIFTLINE_DATA__MAX_ROWS"] = str(first_model_rows)
        self.env["DRIFTLINE_MODEL__PARAMS"] = '{"max_iter": 60}'
        # the demo's shadow phase and watch are off unless a test turns them on: each test times its own phases
        self.env["DRIFTLINE_RETRAIN__SHADOW_ROWS"] = "0"
        self.env["DRIFTLINE_RETRAIN__WATCH_ROWS"] = "0"
        self.env["DRIFTLINE_MONITORING__INTERVAL_SECONDS"] = "3"
        # this test is about the loop's decisions, not about yielding the CPU: a niced monitor on a loaded test
        # machine completes too few checks within the replay
        self.env["DRIFTLINE_MONITORING__NICENESS"] = "0"
        # a holdout of a few thousand labelled rows, so a real gain stands out of the bootstrap's noise
        self.env["DRIFTLINE_RETRAIN__LIVE_ROWS"] = "8000"
        self.env["DRIFTLINE_RETRAIN__MIN_LABELED_ROWS"] = "3000"
        self.env["DRIFTLINE_RETRAIN__COOLDOWN_SECONDS"] = "30"
        # candidates learn mostly from the new season, so their reference (the new drift baseline) is mostly live
        self.env["DRIFTLINE_RETRAIN__REFERENCE_FRACTION"] = "0.2"
        self.env.update(overrides)
        self.port, self.monitor_port = free_port(), free_port()
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("DRIFTLINE_")})
        try:
            self.settings = load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.registry = Registry(Store(self.settings.store.url), self.settings.store.model_dir)
        subprocess.run([sys.executable, "-m", "driftline.cli", "train"], env=self.env, check=True, capture_output=True)
        self.processes = [start_driftline("serve", self.port, env=self.env, log=folder / "service.log")]
        try:
            self.processes.append(
                start_driftline("monitor", self.monitor_port, env=self.env, log=folder / "monitor.log")
            )
        except BaseException:
            stop_process_group(self.processes[0])
            raise
        self.checks: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_checks, daemon=True)
        self._watcher.start()

    def _watch_checks(self) -> None:
        seen = None
        while not self._stop.wait(0.5):
            try:
                check = httpx.get(f"http://127.0.0.1:{self.monitor_port}/checks/latest", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                continue
            if check.get("checked_at") != seen and check.get("drift_share") is not None:
                seen = check["checked_at"]
                self.checks.append(check)

    def train_another(self, **overrides: str) -> int:
        """`driftline train` again with these DRIFTLINE_* overrides: a further version, registered beside production
        (not promoted); returns its number."""
        env = {**self.env, **overrides}
        subprocess.run([sys.executable, "-m", "driftline.cli", "train"], env=env, check=True, capture_output=True)
        return max(v["version"] for v in self.registry.store.list_versions())

    def replay(self, *, shuffle_labels: bool, rows: int | None = None) -> Any:
        """Every tenth live flight (the first `rows` of them if given) at 400 rows a second, labelled after 1 s."""
        live = load_dataset(self.settings.data).live.iloc[::10].iloc[:rows]
        if shuffle_labels:
            live = live.assign(late=live["late"].sample(frac=1.0, random_state=0).to_numpy())
        features = list(self.settings.data.features.numeric) + list(self.settings.data.features.categorical)
        return replay(
            f"http://127.0.0.1:{self.port}",
            live,
            features,
            "late",
            time_column="time_hour",
            rows_per_second=400,
            batch=20,
            label_delay=1.0,
            label_fraction=1.0,
            out=lambda _: None,
        )

    def wait_for_retrain(self, seconds: float = 240) -> None:
        """Until a drift-triggered retrain has finished and none is running: on a busy machine the monitor may
        only get there after the replay has ended (its window keeps drifting, so the trigger still fires)."""

        def finished() -> bool:
            runs = [r for r in self.registry.store.list_runs() if r["trigger"] == "drift"]
            return bool(runs) and not any(r["status"] == "running" for r in runs)

        wait_for("a drift-triggered retrain to finish", finished, seconds, every=1)

    def close(self) -> None:
        self._stop.set()
        for process in self.processes:
            stop_process_group(process)
        self.registry.store.dispose()


class ConcurrentClients:
    """Threads posting real rows to /predict back to back, keeping every failure and the versions that answered."""

    def __init__(self, url: str, rows: list[dict[str, Any]], threads: int = 3) -> None:
        self.url, self.rows = url, rows
        self.failures: list[str] = []
        self.versions: list[int] = []
        self.answered = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self, offset: int) -> None:
        with httpx.Client(timeout=30) as client:
            index = offset
            while not self._stop.wait(0.05):
                index += 1
                try:
                    response = client.post(f"{self.url}/predict", json=self.rows[index % len(self.rows)])
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                self.answered += 1
                self.versions.append(response.json()["model_version"])

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="driftline-retrain-e2e-"))
    running = Stack(folder, **getattr(request, "param", {}))
    try:
        yield running
    finally:
        running.close()
        shutil.rmtree(folder, ignore_errors=True)
