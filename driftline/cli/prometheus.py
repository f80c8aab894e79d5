"""A local Prometheus for `driftline up`, with the shipped scrape config and alert rules pointed at our ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import yaml

# the top-level prometheus/ files, shipped as package data so an installed wheel has them too
PROMETHEUS_DIR = Path(str(resources.files("driftline.cli").joinpath("assets")))


def local_config(folder: Path, *, service: str, monitor: str) -> Path:
    """The shipped prometheus.yml with its two targets replaced and the rules file given by absolute path."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    text = yaml.safe_dump(config).replace("127.0.0.1:3000", service).replace("127.0.0.1:3001", monitor)
    config = yaml.safe_load(text)
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config.get("rule_files", [])]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start_prometheus(*, service: str, monitor: str, port: int) -> subprocess.Popen[bytes] | None:
    """Start Prometheus on 127.0.0.1:`port` with data in a temporary folder; None when it is not installed."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="driftline-prometheus-"))
    config = local_config(folder, service=service, monitor=monitor)
    return subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
