"""Starting the BentoML service as its own process (nothing imports the service package)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

from driftline.core.settings import CONFIG_ENV, Settings

SERVICE = "driftline.service.app:Driftline"


def service_env(settings: Settings, config: Path) -> dict[str, str]:
    """The environment `bentoml serve` needs: our config file and the model store as BENTOML_HOME."""
    env = dict(os.environ)
    env[CONFIG_ENV] = str(config.resolve())
    env["BENTOML_HOME"] = str(Path(settings.store.model_dir).resolve())
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    # one OpenMP thread per worker: several workers each spinning a pool per core starve one another
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def serve_command(port: int, host: str) -> list[str]:
    bentoml = Path(sys.executable).with_name("bentoml")
    program = [str(bentoml)] if bentoml.exists() else [sys.executable, "-m", "bentoml"]
    return [*program, "serve", SERVICE, "--port", str(port), "--host", host]


def exec_service(settings: Settings, config: Path, *, port: int, host: str) -> NoReturn:
    """Become `bentoml serve`: signals reach it directly, and no idle parent process holds memory."""
    command = serve_command(port, host)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, service_env(settings, config))


def start_service(settings: Settings, config: Path, *, port: int, host: str) -> subprocess.Popen[bytes]:
    """Start `bentoml serve` in the background; the caller waits on or stops the process."""
    return subprocess.Popen(serve_command(port, host), env=service_env(settings, config))
