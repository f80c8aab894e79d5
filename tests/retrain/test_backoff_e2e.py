"""The back-off in a real `driftline monitor` process: a drift no candidate beats retrains ever more rarely, and a
real change afterwards is still promoted."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from driftline.core import Registry, Settings, Store, load_settings
from retrain import train
from tests.factories import write_config
from tests.monitoring.conftest import log_predictions
from tests.processes import free_port, stop_process_group, wait_for
from tests.retrain.test_challenger import new_regime

pytestmark = pytest.mark.integration

COOLDOWN, CAP = 3, 24  # waits after 0, 1, 2, 3 … rejections in a row: 3, 6, 12, 24, 24 … seconds
STUCK_SECONDS = 45  # how long the unfixable drift lasts, from the first drift-triggered retrain


def most_retrains(elapsed: float) -> int:
    """Retrains that can start within `elapsed` seconds of the first one when every one is rejected."""
    count, at, wait = 1, 0.0, COOLDOWN
    while True:
        wait = min(wait * 2, CAP)
        at += wait
        if at > elapsed:
            return count
        count += 1


@pytest.fixture
def monitored(tmp_path: Path, loans_csv: Path) -> Iterator[tuple[Settings, Registry, str]]:
    """A trained version 1 and a real monitor process checking every second, with a short cool-down and cap."""
    config = write_config(
        tmp_path,
        loans_csv,
        monitoring__window_rows=1000,
        monitoring__min_rows=200,
        monitoring__interval_seconds=1,
        monitoring__drift_share=0.2,
        monitoring__reports_dir=str(tmp_path / "reports"),
        monitoring__niceness=0,
        retrain__consecutive_windows=1,
        retrain__cooldown_seconds=COOLDOWN,
        retrain__backoff_max_seconds=CAP,
        retrain__min_labeled_rows=300,
        retrain__live_rows=1500,
        retrain__min_gain=0.05,
    )
    settings = load_settings(config)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry, trigger="test")
    port = free_port()
    monitor = subprocess.Popen(
        [sys.executable, "-m", "driftline.cli", "monitor", "--config", str(config), "--port", str(port)],
        env={k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield settings, registry, f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(monitor)
        registry.store.dispose()


def drift_runs(registry: Registry) -> list[dict[str, Any]]:
    return [r for r in registry.store.list_runs() if r["trigger"] == "drift"]


def test_unfixable_drift_retrains_at_most_as_the_back_off_allows_and_a_real_change_is_promoted(
    monitored: tuple[Settings, Registry, str],
) -> None:
    """Shuffled labels under drift: every retrain is rejected and they come no faster than the doubling waits
    allow; then labels that follow a new rule arrive, and a retrain within the cap promotes a better model."""
    _, registry, monitor_url = monitored
    stuck = new_regime(1500, seed=61)
    log_predictions(registry, stuck, labels=pd.Series(stuck["default"].sample(frac=1.0, random_state=4).to_numpy()))
    first = wait_for("the first drift-triggered retrain", lambda: drift_runs(registry)[-1:], 90)[0]
    time.sleep(max(0.0, first["started_at"] + STUCK_SECONDS - time.time()))
    ended = time.time()

    def stuck_phase() -> list[dict[str, Any]]:
        return [r for r in drift_runs(registry) if r["started_at"] <= ended]

    # read again on every poll: a run that was running when the phase ended finishes later
    wait_for(
        "the retrains of the stuck phase to finish", lambda: all(r["status"] != "running" for r in stuck_phase()), 90
    )
    during = stuck_phase()
    gauge = httpx.get(f"{monitor_url}/metrics", timeout=10).text
    changed = new_regime(1500, seed=62)
    log_predictions(registry, changed, labels=changed["default"])
    promoted = wait_for(
        "a promotion after the real change",
        lambda: [p for p in registry.store.promotion_history() if p["kind"] == "auto"],
        CAP + 60,
    )[0]
    bound = most_retrains(ended - first["started_at"])
    assert 2 <= len(during) <= bound, ([r["started_at"] - first["started_at"] for r in during], bound)
    assert {"rejected"} == {(r["details"] or {}).get("outcome") for r in during}
    assert 'driftline_next_retrain_allowed_timestamp_seconds{reason="' in gauge
    assert (1, "promoted: gain +") == (promoted["previous_version"], promoted["reason"][: len("promoted: gain +")])
