"""A tampered model version on a real `driftline serve`: the admin API will not promote it, and when the pointer
is moved to it anyway the workers refuse the swap, keep serving the version they have, and log and count it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from driftline.core.registry import PIPELINE_FILE
from retrain import train
from tests.factories import feature_row, make_loans
from tests.service.conftest import serving

pytestmark = pytest.mark.integration

TOKEN = "tamper-test-admin-token-0123456789"


def test_a_tampered_version_is_refused_and_the_current_one_keeps_serving(tmp_path: Path) -> None:
    """Admin promotion answers 409 naming version and file; a pointer moved anyway changes no answer."""
    log = tmp_path / "serve.log"
    with serving(tmp_path, log, serving__admin_token=TOKEN) as served:
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
