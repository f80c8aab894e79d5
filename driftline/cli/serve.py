"""Starting the BentoML service as its own process (nothing imports the service package)."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from driftline.core import CONFIG_ENV, Settings

SERVICE = "service.app:Driftline"


def service_env(settings: Settings, config: Path) -> dict[str, str]:
    """The environment `bentoml serve` needs: our config file and the model store as BENTOML_HOME."""
    env = dict(os.environ)
    env[CONFIG_ENV] = str(config.resolve())
    env["BENTOML_HOME"] = str(Path(settings.store.model_dir).resolve())
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    # one OpenMP thread per worker: several workers each spinning a pool per core starve one another
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


MEMORY = Path("/dev/shm")
METRICS_DIR = "prometheus_multiproc_dir"  # BentoML keeps its workers' metric files in BENTOML_HOME under this name


def metrics_in_memory(model_dir: Path, memory: Path = MEMORY) -> Path:
    """Make BentoML's folder of per-worker metric files a link to an empty folder in memory; returns where it leads.

    Every request updates those files through a memory map. On a disk, a page the kernel has just written back must
    be made writable again, and that waits for the filesystem's journal, which the store's and the monitor's own
    writes keep busy: the request stalls with its worker. In memory (tmpfs) nothing is written back. Without a
    writable `memory` folder the files stay on disk, as BentoML places them.
    """
    home = Path(model_dir).resolve()
    link = home / METRICS_DIR
    if not (memory.is_dir() and os.access(memory, os.W_OK)):
        return link
    # one folder per model store, so restarts reuse it rather than leave old ones behind
    target = memory / f"driftline-metrics-{hashlib.sha256(str(home).encode()).hexdigest()[:16]}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(mode=0o700)  # BentoML clears the folder itself only when it is a real one, not a link
    home.mkdir(parents=True, exist_ok=True)
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    # replaced by one rename, never removed first: replicas that share one model store (the compose and Kubernetes
    # recipes) start at any time, and a worker of a running replica may open a metric file through the link then
    staged = home / f"{METRICS_DIR}.{secrets.token_hex(8)}"
    staged.symlink_to(target, target_is_directory=True)
    os.replace(staged, link)
    return target


def serve_command(port: int, host: str) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    program = [str(bentoml)] if bentoml.exists() else [sys.executable, "-m", "bentoml"]
    return [*program, "serve", SERVICE, "--port", str(port), "--host", host]


def exec_service(settings: Settings, config: Path, *, port: int, host: str) -> NoReturn:
    """Become `bentoml serve`: signals reach it directly, and no idle parent process holds memory."""
    command = serve_command(port, host)
    metrics_in_memory(settings.store.model_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, service_env(settings, config))


def start_service(settings: Settings, config: Path, *, port: int, host: str) -> subprocess.Popen[bytes]:
    """Start `bentoml serve` in the background; the caller waits on or stops the process."""
    metrics_in_memory(settings.store.model_dir)
    return subprocess.Popen(serve_command(port, host), env=service_env(settings, config))
