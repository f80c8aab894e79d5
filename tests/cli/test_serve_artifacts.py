"""`driftline serve` on a host whose model store lacks the production version and whose artifact store is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.cli.main import main
from driftline.core import Settings
from retrain import TrainingOutcome
from tests.factories import write_config
from tests.processes import free_port

DEAD_ENDPOINT_OPTIONS = {
    "key": "AKIAEXAMPLEKEY",
    "secret": "example-secret-value",
    "client_kwargs": {"region_name": "us-east-1"},
    "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
}


@pytest.fixture
def other_host_config(tmp_path: Path, settings: Settings, loans_csv: Path, trained: TrainingOutcome) -> Path:
    """A second host on the same store, with an empty model store and an S3 endpoint nothing listens on."""
    folder = tmp_path / "host-b"
    folder.mkdir()
    return write_config(
        folder,
        loans_csv,
        store__url=settings.store.url,
        store__artifacts_url="s3://artifacts/driftline",
        store__artifacts_options={**DEAD_ENDPOINT_OPTIONS, "endpoint_url": f"http://127.0.0.1:{free_port()}"},
    )


def test_a_first_start_without_a_reachable_artifact_store_fails_with_one_line(
    other_host_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The serve command exits 2 with one line naming the store's URL and not its credentials."""
    code = main(["serve", "--config", str(other_host_config)])
    expected = (
        "driftline serve: the artifact store s3://artifacts/driftline is unavailable (EndpointConnectionError); "
        "version 1 could not be fetched\n"
    )
    assert (2, expected) == (code, capsys.readouterr().err)
