"""Unattended retraining on real parts: bentoml serve, the monitor, and replayed real flights with late labels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftline.cli.demo import demo_env
from driftline.cli.replay import replay
from driftline.core import Registry, Store, load_dataset, load_settings
from driftline.core.settings import DEFAULT_CONFIG
from tests.factories import free_port
from tests.service.conftest import stop_server, wait_ready

pytestmark = pytest.mark.integration


class Stack:
    def __init__(self, folder: Path, first_model_rows: int | None = None) -> None:
        self.env = demo_env(folder, DEFAULT_CONFIG)
        if first_model_rows:
            self.env["DRIFTLINE_DATA__MAX_ROWS"] = str(first_model_rows)
        self.env["DRIFTLINE_MODEL__PARAMS"] = '{"max_iter": 60}'
        self.env["DRIFTLINE_MONITORING__INTERVAL_SECONDS"] = "3"
        # a holdout of a few thousand labelled rows, so a real gain stands out of the bootstrap's noise
        self.env["DRIFTLINE_RETRAIN__LIVE_ROWS"] = "8000"
        self.env["DRIFTLINE_RETRAIN__MIN_LABELED_ROWS"] = "3000"
        self.env["DRIFTLINE_RETRAIN__COOLDOWN_SECONDS"] = "30"
        self.port, self.monitor_port = free_port(), free_port()
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("DRIFTLINE_")})
        try:
            self.settings = load_settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.registry = Registry(Store(self.settings.store.url), self.settings.store.model_dir)
        cli = [sys.executable, "-m", "driftline.cli"]
        subprocess.run([*cli, "train"], env=self.env, check=True, capture_output=True)
        self.processes = [
            subprocess.Popen(
                [*cli, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            ),
            subprocess.Popen(
                [*cli, "monitor", "--port", str(self.monitor_port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            ),
        ]
        wait_ready(f"http://127.0.0.1:{self.port}", self.processes[0])
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

    def replay(self, *, shuffle_labels: bool) -> Any:
        live = load_dataset(self.settings.data).live.iloc[::10]
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

    def close(self) -> None:
        self._stop.set()
        for process in self.processes:
            stop_server(process)
        self.registry.store.dispose()


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="driftline-retrain-e2e-"))
    running = Stack(folder, first_model_rows=getattr(request, "param", None))
    try:
        yield running
    finally:
        running.close()
        shutil.rmtree(folder, ignore_errors=True)


# version 1 learns from the last 3,000 winter flights only, so a retrain on thousands of labelled live flights has
# a real, measurable advantage for the guardrail to recognise
@pytest.mark.parametrize("stack", [3000], indirect=True)
def test_drift_leads_to_a_promotion_the_service_serves(stack: Stack) -> None:
    """Drift: the monitor retrains, promotes a clearly better model, responses carry it, drift uses its reference."""
    stats = stack.replay(shuffle_labels=False)
    time.sleep(4)
    promotions = [p for p in stack.registry.store.promotion_history() if p["kind"] == "auto"]
    assert promotions, [r["message"] for r in stack.registry.store.list_runs()]
    first = promotions[0]
    evidence = first["evidence"]
    assert evidence["candidate_metrics"]["roc_auc"] > evidence["champion_metrics"]["roc_auc"]
    assert "consecutive windows" in evidence["drift"]["reason"]
    assert first["version"] in stats.versions and stats.failed == 0
    served = httpx.get(f"http://127.0.0.1:{stack.port}/model").json()["model_version"]
    assert stack.registry.store.production_version() == served
    # the monitor now measures drift against the promoted version's reference
    new_reference = stack.registry.get(first["version"]).hashes["reference.parquet"]
    assert any(c["reference_sha256"] == new_reference for c in stack.checks if c["model_version"] == first["version"])


def test_a_candidate_on_shuffled_labels_is_rejected_and_production_stays(stack: Stack) -> None:
    """With labels that carry no signal, retrains run and are rejected; version 1 serves throughout."""
    stats = stack.replay(shuffle_labels=True)  # the cool-down allows about two retrains in this replay
    time.sleep(4)
    runs = [r for r in stack.registry.store.list_runs() if r["trigger"] == "drift"]
    assert runs and all(r["message"].startswith("rejected") for r in runs if r["status"] == "succeeded")
    assert 1 == stack.registry.store.production_version()
    assert {1} == set(stats.versions)
    assert ["initial"] == [p["kind"] for p in stack.registry.store.promotion_history()]
