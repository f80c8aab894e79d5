"""The processes tests start and the loops that wait for them, in one place: free ports, bounded polling, process
groups, the `driftline` servers (`serve`, `monitor`, `up`) and Prometheus started until they answer, a trained model
served for a block (`serve_trained`), a throwaway PostgreSQL server (which the reliability tests also stop and
start again, or pause, to take the store away), and moto's standalone S3 server as the shared artifact store.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from driftline.bentoml_compat import WORKER_MODULE
from driftline.core import Registry, Settings, Store, load_settings
from driftline.core.store import predictions
from retrain import train
from tests.factories import make_loans, write_config


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], Any], seconds: float, every: float = 0.2) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM to the process's group, SIGKILL after `timeout`."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # workers left behind by a killed arbiter would keep the port and the store open
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# what each server command answers 200 on once it is ready
READY_PATH = {"serve": "/readyz", "up": "/readyz", "monitor": "/healthz"}


def answers(url: str) -> bool:
    """True when a GET of `url` answers 200; a refused or failed connection is False."""
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


def start_driftline(
    command: str,
    port: int,
    *arguments: str,
    log: Path,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    seconds: float = 90,
    wait: bool = True,
) -> subprocess.Popen[bytes]:
    """`driftline COMMAND --port PORT` in its own session, once it answers on 127.0.0.1:PORT (see READY_PATH);
    with `wait=False` at once, for starting several together.

    Only `env` and the config file speak: DRIFTLINE_* variables of the calling shell are dropped. Everything the
    process prints goes to `log` (BentoML sends its workers' logs to stdout), whose end a failure quotes.
    """
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    with_config = ["--config", str(config)] if config is not None else []
    return start_server(
        [sys.executable, "-m", "driftline.cli", command, *with_config, "--port", str(port), *arguments],
        f"http://127.0.0.1:{port}{READY_PATH[command]}",
        log=log,
        env={**clean, **(env or {})},
        seconds=seconds,
        wait=wait,
    )


def start_prometheus(config: Path, port: int, *, data: Path, log: Path, seconds: float = 60) -> subprocess.Popen[bytes]:
    """Prometheus with `config` and its time series in `data`, once it is ready on 127.0.0.1:PORT."""
    command = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}"]
    return start_server(
        [*command, f"--web.listen-address=127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}/-/ready",
        log=log,
        seconds=seconds,
    )


def start_server(
    command: list[str],
    ready_url: str,
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    seconds: float = 90,
    wait: bool = True,
) -> subprocess.Popen[bytes]:
    """`command` in its own session with its output in `log`, once `ready_url` answers 200; stopped again if it
    exits or does not get there in `seconds` (the failure quotes the end of `log`). With `wait=False`, at once."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=None if env is None else dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready() -> bool:
        if process.poll() is not None:
            started = " ".join(Path(part).name for part in command[:4])
            raise RuntimeError(f"{started} exited: {log.read_text(errors='replace')[-3000:]}")
        return answers(ready_url)

    if not wait:
        return process
    try:
        wait_for(f"{ready_url} to answer", ready, seconds, every=0.3)
    except BaseException:
        stop_process_group(process)
        raise
    return process


@dataclass
class Served:
    """A running `driftline serve` (which becomes `bentoml serve`) over a trained loans model, and its store."""

    url: str
    config: Path
    settings: Settings
    registry: Registry
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def store(self) -> Store:
        return self.registry.store

    def log_text(self) -> str:
        """What the service printed (BentoML's log lines, stdout and stderr)."""
        return self.log.read_text(errors="replace")

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


@contextlib.contextmanager
def serve_trained(
    folder: Path, log: Path | None = None, *, workers: int = 1, train_first: bool = True, **overrides: Any
) -> Iterator[Served]:
    """Train a loans model into `folder` and run `driftline serve` with `workers` on it, on a free port, for the
    block. `overrides` are config fields (`store__url=…`); the output goes to `log`, by default `service.log`. With
    `train_first=False` the service serves what the store's production pointer names, as a further host would."""
    data = folder / "loans.csv"
    make_loans(2000).to_csv(data, index=False)
    config = write_config(folder, data, serving__workers=workers, **overrides)
    settings = load_settings(config)
    registry = Registry.configured(Store(settings.store.url), settings.store)
    try:
        if train_first:
            train(settings, registry, trigger="test")
        port = free_port()
        log = log or folder / "service.log"
        process = start_driftline("serve", port, config=config, log=log)
        try:
            yield Served(f"http://127.0.0.1:{port}", config, settings, registry, process, log)
        finally:
            stop_process_group(process)
    finally:
        registry.store.dispose()


class RestartablePostgres:
    """A throwaway PostgreSQL server on 127.0.0.1 whose `stop()` and `start()` keep its port and data directory."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries are missing: run scripts/system-deps.sh")
        self._bindir = Path(found[-1]).parent
        # outside pytest's tmp tree, which is private to root: as root the server runs as `postgres`
        self._folder = Path(tempfile.mkdtemp(prefix="driftline-pg-"))
        self._folder.chmod(0o755)
        self._data = self._folder / "pgdata"
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self._as_user = ["runuser", "-u", "postgres", "--"]
            self._data.mkdir()
            shutil.chown(self._data, "postgres", "postgres")
        subprocess.run(
            [*self._as_user, str(self._bindir / "initdb"), "-D", str(self._data), "-A", "trust", "-U", "driftline"],
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        self.url = f"postgresql+psycopg://driftline@127.0.0.1:{self.port}/postgres"
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._server = subprocess.Popen(
            [
                *self._as_user,
                str(self._bindir / "postgres"),
                "-D",
                str(self._data),
                "-p",
                str(self.port),
                "-k",
                str(self._data),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        engine = sa.create_engine(self.url)

        def accepts() -> bool:
            with contextlib.suppress(sa.exc.OperationalError), engine.connect():
                return True
            return False

        try:
            wait_for("PostgreSQL to accept connections", accepts, 30, every=0.1)
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): open sessions are ended, the port closes."""
        if self._server is not None and self._server.poll() is None:
            self.resume()  # a paused server could not shut down
            # as root the postmaster is a child of runuser; signal it, not runuser
            target = psutil.Process(self._server.pid)
            postmaster = next((c for c in target.children() if c.name() == "postgres"), target)
            postmaster.send_signal(signal.SIGINT)
            self._server.wait(timeout=30)
        self._server = None

    def pause(self) -> None:
        """SIGSTOP the server and its sessions: connections stay open, and every query and new connection hangs."""
        for process in self._processes("postgres"):
            process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT what `pause` stopped; hanging queries and connections go on."""
        # runuser (as root) stops itself when its child stops, so it is continued as well
        for process in reversed(self._processes()):
            process.send_signal(signal.SIGCONT)

    def _processes(self, name: str | None = None) -> list[psutil.Process]:
        """The server process first (runuser, as root), then everything under it, optionally only `name`."""
        if self._server is None:
            return []
        top = psutil.Process(self._server.pid)
        return [p for p in (top, *top.children(recursive=True)) if name is None or p.name() == name]

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 for the length of the block; yields the admin URL (`postgres`)."""
    server = RestartablePostgres()
    try:
        server.start()
        yield server.url
    finally:
        server.close()


class MotoS3:
    """moto's standalone S3 server on 127.0.0.1 (in memory: `stop()` takes the artifact store away for good)."""

    # moto accepts any credentials; the region is the one its buckets are made in
    KEY, SECRET, REGION = "testing-key", "testing-secret", "us-east-1"

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers."""
        program = Path(sys.executable).with_name("moto_server")
        self._server = subprocess.Popen(
            [str(program), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.endpoint_url, timeout=1)
                return True
            return False

        wait_for("moto's S3 server to answer", answers, 30, every=0.1)

    def stop(self) -> None:
        if self._server is not None:
            stop_process_group(self._server, timeout=10)
        self._server = None

    def options(self) -> dict[str, Any]:
        """`store.artifacts_options` for s3fs: this endpoint, its credentials, and no long retries when it is down."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": self.KEY,
            "secret": self.SECRET,
            "client_kwargs": {"region_name": self.REGION},
            "config_kwargs": {"connect_timeout": 2, "read_timeout": 10, "retries": {"max_attempts": 2}},
        }

    def client(self) -> Any:
        """A boto3 S3 client of this server, for a test to make buckets or change objects behind Driftline."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
            region_name=self.REGION,
        )

    def new_bucket(self) -> str:
        """A fresh bucket; returns it as an `s3://` artifacts URL with a prefix."""
        name = f"driftline-{os.urandom(4).hex()}"
        self.client().create_bucket(Bucket=name)
        return f"s3://{name}/artifacts"


@contextlib.contextmanager
def moto_server() -> Iterator[MotoS3]:
    """moto's S3 server for the length of the block."""
    server = MotoS3()
    try:
        server.start()
        yield server
    finally:
        server.stop()
