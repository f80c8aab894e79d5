from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from driftline.core import SCHEDULER_JOBS_TABLE, Settings
from retrain import TrainingOutcome
from tests.processes import answers, free_port, start_driftline, stop_process_group, wait_for

pytestmark = pytest.mark.integration


def leaders(ports: list[int]) -> list[bool]:
    states = []
    for port in ports:
        try:
            states.append(bool(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()["leader"]))
        except httpx.HTTPError:
            states.append(False)
    return states


def test_two_monitors_on_one_store_have_one_leader_and_fail_over(
    config_file: Path, settings: Settings, trained: TrainingOutcome
) -> None:
    """Only the lease holder schedules checks; after a kill -9 the other takes over within a few seconds."""
    env = {
        "DRIFTLINE_MONITORING__LEASE_SECONDS": "2",
        "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "1",
        "DRIFTLINE_MONITORING__REPORTS_DIR": str(config_file.parent / "reports"),
    }
    ports = [free_port(), free_port()]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, port in enumerate(ports):  # together, so neither has the lease to itself for long
            log = config_file.parent / f"monitor{index}.log"
            processes.append(start_driftline("monitor", port, config=config_file, env=env, log=log, wait=False))
        wait_for("both monitors to answer", lambda: all(answers(f"http://127.0.0.1:{p}/healthz") for p in ports), 90)
        wait_for("one of the monitors to lead", lambda: 1 == sum(leaders(ports)), 60, every=0.3)
        samples = []
        for _ in range(10):
            samples.append(leaders(ports))
            time.sleep(0.3)
        assert all(1 == sum(s) for s in samples), samples
        leader = samples[-1].index(True)
        engine = sa.create_engine(settings.store.url)
        with engine.connect() as conn:
            jobs = set(conn.execute(sa.text(f"SELECT id FROM {SCHEDULER_JOBS_TABLE}")).scalars())
        engine.dispose()
        assert {"drift-check", "retention"} == jobs
        status = subprocess.run(
            [sys.executable, "-m", "driftline.cli", "status", "--config", str(config_file)],
            env={k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")} | env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.search(r"next scheduled runs:\n   drift-check\s+\d{4}-\d\d-\d\d", status), status
        assert re.search(r"last drift checks \(latest first\):\n   \S+ \S+  v1  skipped", status), status
        os.killpg(processes[leader].pid, signal.SIGKILL)
        processes[leader].wait(timeout=10)
        other = 1 - leader
        wait_for("the other monitor to take the lease", lambda: leaders([ports[other]])[0], 15, every=0.3)
        assert [True] == leaders([ports[other]])
    finally:
        for process in processes:
            stop_process_group(process)
