from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from driftline.core import Registry, Settings, UnknownVersion
from retrain import TrainingOutcome
from tests.factories import write_config
from tests.monitoring.conftest import log_predictions
from tests.processes import free_port, start_driftline, stop_process_group, wait_for
from tests.retrain.test_challenger import new_regime

pytestmark = pytest.mark.integration

# a thousand trials of five folds: a retrain that is still searching when the monitor is killed
SLOW_SEARCH = {
    "method": "random",
    "iterations": 1000,
    "folds": 5,
    "space": {"C": {"low": 0.001, "high": 10.0, "log": True}},
}


def start_monitor(config_file: Path) -> subprocess.Popen[bytes]:
    """`driftline monitor` checking every second, retraining at the first drifted window with 300 labels."""
    return start_driftline(
        "monitor",
        free_port(),
        config=config_file,
        log=config_file.parent / "monitor.log",
        env={
            "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "1",
            "DRIFTLINE_MONITORING__MIN_ROWS": "200",
            "DRIFTLINE_MONITORING__DRIFT_SHARE": "0.2",
            "DRIFTLINE_MONITORING__LEASE_SECONDS": "2",
            "DRIFTLINE_MONITORING__REPORTS_DIR": str(config_file.parent / "reports"),
            "DRIFTLINE_RETRAIN__CONSECUTIVE_WINDOWS": "1",
            "DRIFTLINE_RETRAIN__COOLDOWN_SECONDS": "0",
            "DRIFTLINE_RETRAIN__MIN_LABELED_ROWS": "300",
        },
    )


def test_kill_9_mid_retrain_changes_nothing_and_the_next_run_works(
    tmp_path: Path, loans_csv: Path, settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """A monitor killed while it retrains leaves production and the versions as they were; the next leader marks
    the run interrupted and its own retrain registers and promotes a complete version."""
    live = new_regime(1500, seed=61)
    log_predictions(registry, live, labels=live["default"])
    slow_config = write_config(tmp_path, loans_csv, model__search=SLOW_SEARCH)
    monitor = start_monitor(slow_config)
    try:
        running = wait_for(
            "a drift-triggered retrain to start",
            lambda: [r for r in registry.store.list_runs() if r["status"] == "running" and r["trigger"] == "drift"],
            90,
        )
        time.sleep(2.0)  # well inside the search
        assert None is monitor.poll(), "the monitor ended before it could be killed"
        os.killpg(monitor.pid, signal.SIGKILL)
        monitor.wait(timeout=10)
    finally:
        stop_process_group(monitor)
    run_id = running[0]["id"]
    assert 1 == registry.production().version
    assert [1] == [v.version for v in registry.versions()]
    assert "running" == {r["id"]: r for r in registry.store.list_runs()}[run_id]["status"]
    with pytest.raises(UnknownVersion):
        registry.promote(2, kind="manual", reason="a half-trained version must not exist")
    assert 1 == len(registry.store.promotion_history())

    quick_config = write_config(tmp_path, loans_csv)
    monitor = start_monitor(quick_config)
    try:
        wait_for("the next retrain to promote version 2", lambda: registry.store.production_version() == 2, 120)
    finally:
        stop_process_group(monitor)
    runs = {r["id"]: r for r in registry.store.list_runs()}
    assert ("failed", "interrupted: the monitor stopped mid-run") == (runs[run_id]["status"], runs[run_id]["message"])
    assert [1, 2] == [v.version for v in registry.versions()]
    assert 2 == registry.load(2).version  # complete artifacts that pass their hash check
    assert ["initial", "auto"] == [p["kind"] for p in registry.store.promotion_history()]
