"""Real processes to break: `bentoml serve` on a trained loans model, a PostgreSQL server that can be stopped and
started again on the same port and data, and a way to make a SQLite file refuse writes.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from driftline.bentoml_compat import WORKER_MODULE
from driftline.cli.serve import metrics_in_memory, serve_command, service_env
from driftline.core import Registry, Settings, Store, load_settings
from driftline.core.settings import CONFIG_ENV
from driftline.core.store import predictions
from retrain import train
from tests.factories import make_loans, write_config
from tests.processes import RestartablePostgres, free_port, stop_process_group, wait_for

# the service ----------------------------------------------------------------------------------------------------


@dataclass
class Service:
    """A running `bentoml serve` (the process itself, no CLI wrapper in between) and its store."""

    url: str
    config: Path
    settings: Settings
    store: Store
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def log_text(self) -> str:
        """What the service printed (BentoML's log lines, stdout and stderr)."""
        return self.stderr_path.read_text(errors="replace")

    def metric(self, name: str, **labels: str) -> float:
        """The sum of one metric's samples on GET /metrics whose labels include `labels`."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def workers(self) -> set[int]:
        """PIDs of the worker processes under the serve process."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return {c.pid for c in children if _is_worker(c)}

    def client_connections(self, pid: int) -> int:
        """Established client connections the worker `pid` holds on the service's port."""
        port = int(self.url.rsplit(":", 1)[1])
        sockets = psutil.Process(pid).net_connections(kind="tcp")
        return sum(1 for c in sockets if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)

    def logged(self, request_ids: list[str]) -> set[str]:
        """Which of these request ids are rows of the predictions table."""
        found: set[str] = set()
        with self.store.engine.connect() as conn:
            for start in range(0, len(request_ids), 500):
                chunk = request_ids[start : start + 500]
                found.update(
                    conn.execute(sa.select(predictions.c.request_id).where(predictions.c.request_id.in_(chunk)))
                    .scalars()
                    .all()
                )
        return found


def _is_worker(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return WORKER_MODULE in process.cmdline()
    return False


def start_service(folder: Path, store_url: str | None = None, *, train_first: bool = True, **overrides: Any) -> Service:
    """Train a loans model into `folder` (or into `store_url`) and start `bentoml serve` on a free port; with
    `train_first=False` the service serves what the store's production pointer names, as a further host would."""
    data = folder / "loans.csv"
    make_loans(2000).to_csv(data, index=False)
    if store_url is not None:
        overrides["store__url"] = store_url
    overrides.setdefault("serving__workers", 1)
    config = write_config(folder, data, **overrides)
    settings = load_settings(config)
    store = Store(settings.store.url)
    if train_first:
        train(settings, Registry.configured(store, settings.store), trigger="test")
    port = free_port()
    # only the config file speaks: DRIFTLINE_* variables of the calling shell would override it
    env = {k: v for k, v in service_env(settings, config).items() if k == CONFIG_ENV or not k.startswith("DRIFTLINE_")}
    metrics_in_memory(settings.store.model_dir)  # as `driftline serve` does
    stderr_path = folder / "service.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            serve_command(port, "127.0.0.1"),
            env=env,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
    service = Service(f"http://127.0.0.1:{port}", config, settings, store, process, stderr_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"service exited: {stderr_path.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200
        return False

    try:
        wait_for("the service to be ready", ready, 90, every=0.3)
    except BaseException:
        stop_process_group(process)
        raise
    return service


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Any]:
    """Starts services with `start_service`; stops every one of them at the end of the test."""
    started: list[Service] = []

    def start(store_url: str | None = None, *, train_first: bool = True, **overrides: Any) -> Service:
        folder = tmp_path / f"service{len(started)}"
        folder.mkdir()
        started.append(start_service(folder, store_url, train_first=train_first, **overrides))
        return started[-1]

    yield start
    for service in started:
        stop_process_group(service.process)
        service.store.dispose()


# PostgreSQL that can be stopped and started again ----------------------------------------------------------------


@pytest.fixture
def restartable_postgres() -> Iterator[RestartablePostgres]:
    server = RestartablePostgres()
    server.start()
    try:
        yield server
    finally:
        server.close()


# a SQLite file that refuses writes -----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_unwritable(database: Path) -> Iterator[None]:
    """Make the database file, its WAL and its folder refuse writes, even to connections that are already open.

    `chmod` does not stop writes through file descriptors already open (nor anything done as root), so this sets
    the immutable attribute (`chattr +i`), which the kernel checks on every write. The shared-memory index stays
    writable: it is mapped into the writers' memory, and freezing it would crash them instead of failing a write.
    """
    targets = [p for p in (database, database.with_name(database.name + "-wal")) if p.exists()] + [database.parent]
    if shutil.which("chattr") is None:
        pytest.skip("chattr is missing: run scripts/system-deps.sh")
    result = subprocess.run(["chattr", "+i", *map(str, targets)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot make the SQLite file immutable here (chattr needs CAP_LINUX_IMMUTABLE): {result.stderr}")
    try:
        probe = sqlite3.connect(database, timeout=1)
        try:
            with pytest.raises(sqlite3.OperationalError, match=r"readonly|I/O"):
                probe.execute("CREATE TABLE outage_probe (x)")
        finally:
            probe.close()
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, targets)], check=True)
