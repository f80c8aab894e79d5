"""A tampered model version on a real `driftline serve`: the admin API will not promote it, and when the pointer
is moved to it anyway the workers refuse the swap, keep serving the version they have, and log and count it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from driftline.core import Registry, Store, load_settings
from driftline.core.registry import PIPELINE_FILE
from driftline.retrain import train
from tests.factories import feature_row, free_port, make_loans, write_config
from tests.service.conftest import Served, stop_server, wait_ready

pytestmark = pytest.mark.integration

TOKEN = "tamper-test-admin-token-0123456789"


@contextlib.contextmanager
def serving_with_logs(folder: Path, log: Path) -> Iterator[Served]:
    """Like `serve_trained`, with the workers' log lines (BentoML sends them to stdout) kept in `log`."""
    data = folder / "loans.csv"
    make_loans(2000).to_csv(data, index=False)
    config = write_config(folder, data, serving__workers=2, serving__admin_token=TOKEN)
    settings = load_settings(config)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry, trigger="test")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "driftline.cli", "serve", "--config", str(config), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, process)
            yield Served(url, config, settings, registry, process)
        finally:
            stop_server(process)
            registry.store.dispose()


def test_a_tampered_version_is_refused_and_the_current_one_keeps_serving(tmp_path: Path) -> None:
    """Admin promotion answers 409 naming version and file; a pointer moved anyway changes no answer."""
    log = tmp_path / "serve.log"
    with serving_with_logs(tmp_path, log) as served:
        first = served.registry.production().version
        tampered = train(served.settings, served.registry, trigger="test").version.version
        pipeline = served.registry.model_dir / served.registry.get(tampered).artifact_dir / PIPELINE_FILE
        data = bytearray(pipeline.read_bytes())
        data[len(data) // 2] ^= 0x01
        pipeline.write_bytes(bytes(data))
        history = served.registry.store.promotion_history()

        response = httpx.post(
            f"{served.url}/admin/promote",
            json={"version": tampered},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=60,
        )
        assert 409 == response.status_code
        error = response.json()["error"]
        assert f"model version {tampered}:" in error and PIPELINE_FILE in error and "sha256" in error
        assert (first, history) == (served.registry.production().version, served.registry.store.promotion_history())

        # something that does not verify artifacts moves the pointer anyway
        served.registry.store.promote(tampered, kind="manual", reason="bypassing the registry")
        row = feature_row(make_loans(3, seed=2), 0)
        versions = set()
        deadline = time.monotonic() + 4.0  # eight polls at 0.5 s
        while time.monotonic() < deadline:
            answer = httpx.post(f"{served.url}/predict", json=row, timeout=30)
            assert 200 == answer.status_code, answer.text
            versions.add(answer.json()["model_version"])
            time.sleep(0.1)
        assert {first} == versions
        assert first == httpx.get(f"{served.url}/model", timeout=30).json()["model_version"]
        metrics = httpx.get(f"{served.url}/metrics", timeout=30).text
        refused = re.search(rf'driftline_model_swaps_refused_total\{{model_version="{tampered}"\}} (\S+)', metrics)
        assert refused is not None and float(refused.group(1)) >= 1.0
    refusals = [line for line in log.read_text(errors="replace").splitlines() if "refused, still serving" in line]
    assert refusals and f"model version {tampered}:" in refusals[0] and PIPELINE_FILE in refusals[0]
