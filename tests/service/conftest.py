"""A real `driftline serve` (BentoML, two workers) on 127.0.0.1 over a trained loans model."""

from __future__ import annotations

import contextlib
import operator
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from driftline.core import PIPELINE_FILE, REFERENCE_FILE, Registry, Settings, Store, VersionDetails, load_settings
from retrain import train
from tests.factories import make_loans, write_config
from tests.processes import free_port, stop_process_group, wait_for


@dataclass
class Served:
    url: str
    config: Path
    settings: Settings
    registry: Registry
    process: subprocess.Popen[bytes]


def start_server(config: Path, port: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`driftline serve`; with `log`, everything it prints (BentoML sends worker logs to stdout) goes there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    command = [sys.executable, "-m", "driftline.cli", "serve", "--config", str(config), "--port", str(port)]
    if log is None:
        return subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    """Wait until the service answers /readyz; fail with its last output if it exits first."""

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-3000:] if process.stderr else ''}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        return False

    wait_for("the service to be ready", ready, seconds, every=0.3)


def settled_count(served: Served) -> int:
    """The logged row count once queued records have been written."""
    previous = -1
    current = served.registry.store.count_predictions()
    while current != previous:
        time.sleep(0.4)
        previous, current = current, served.registry.store.count_predictions()
    return current


def serve_trained(folder: Path, log: Path | None = None, **overrides: object) -> Iterator[Served]:
    data = folder / "loans.csv"
    make_loans(2000).to_csv(data, index=False)
    config = write_config(folder, data, serving__workers=2, **overrides)
    settings = load_settings(config)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry, trigger="test")
    port = free_port()
    process = start_server(config, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield Served(url, config, settings, registry, process)
    finally:
        stop_process_group(process)
        registry.store.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_trained(tmp_path_factory.mktemp("served"))


def register_failing_version(registry: Registry) -> int:
    """A version that loads (its files are hash-checked like any other) and raises at every prediction: its first
    step negates the request's columns, which a categorical feature refuses."""
    champion = registry.production()
    folder = registry.model_dir / "failing" / f"v{len(registry.versions()) + 1}"
    folder.mkdir(parents=True)
    classes = np.asarray(champion.schema.classes)
    estimator = DummyClassifier(strategy="prior").fit(np.zeros((len(classes), 1)), classes)
    joblib.dump(
        Pipeline([("negate", FunctionTransformer(operator.neg)), ("estimator", estimator)]), folder / PIPELINE_FILE
    )
    shutil.copy(registry.model_dir / champion.artifact_dir / REFERENCE_FILE, folder / REFERENCE_FILE)
    details: VersionDetails = {"metric": "roc_auc", "metrics": {}}
    return registry.register(
        folder, name=champion.name, tag="failing:1", schema=champion.schema, details=details
    ).version


def start_candidate_shadow(registry: Registry, version: int, needed_rows: int = 50) -> int:
    """`version` as the running shadow of the production version, as a retrain would start it."""
    return registry.store.start_shadow(
        version,
        champion_version=registry.production().version,
        purpose="candidate",
        needed_rows=needed_rows,
        reason="passed its holdout",
    )
