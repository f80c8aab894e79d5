"""Two service hosts with separate model stores, sharing nothing but PostgreSQL and an S3 bucket (moto's server):
a version trained on one is served by the other; a version a monitor on a third host retrains on drift reaches
both; an object changed in the bucket is refused by name; the S3 server going away fails no prediction."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from driftline.core import ArtifactStore, ModelVersion, Registry, Store
from driftline.core.registry import PIPELINE_FILE
from retrain import train
from tests.factories import feature_row, make_loans, write_config
from tests.processes import MotoS3, Served, free_port, moto_server, start_driftline, stop_process_group, wait_for
from tests.reliability.load import Load
from tests.retrain.test_challenger import new_regime

pytestmark = pytest.mark.integration

# what a promoted version may take to reach a host: the poll (0.5 s in the tests' config), the fetch, and a slow CI
REACH_SECONDS = 30


@dataclass
class Hosts:
    """Service hosts A (trained the first version) and B (never trained), and a third host's registry, as the
    monitor's, that trains and promotes."""

    a: Served
    b: Served
    third: Registry
    s3: MotoS3
    artifacts_url: str

    def new_version(self) -> ModelVersion:
        """A version trained on the third host, in neither service host's model store."""
        return train(self.a.settings, self.third, trigger="test").version

    def change_object(self, digest: str) -> None:
        bucket, _, prefix = self.artifacts_url.removeprefix("s3://").partition("/")
        self.s3.client().put_object(Bucket=bucket, Key=f"{prefix}/sha256/{digest}", Body=b"not the pipeline")


@pytest.fixture
def s3() -> Iterator[MotoS3]:
    """A server of this test's own: some tests stop it."""
    with moto_server() as server:
        yield server


@pytest.fixture
def hosts(tmp_path: Path, postgres_url: str, s3: MotoS3, service_factory: Callable[..., Served]) -> Iterator[Hosts]:
    url = s3.new_bucket()
    shared = {"store__artifacts_url": url, "store__artifacts_options": s3.options()}
    a = service_factory(postgres_url, **shared)
    b = service_factory(postgres_url, train_first=False, **shared)
    store = Store(postgres_url)
    yield Hosts(a, b, Registry(store, tmp_path / "third-host", ArtifactStore(url, s3.options())), s3, url)
    store.dispose()


def answering_version(service: Served) -> int:
    row = feature_row(make_loans(3, seed=1), 0)
    return int(httpx.post(f"{service.url}/predict", json=row, timeout=30).json()["model_version"])


def test_a_host_that_never_trained_serves_the_version_trained_on_another(hosts: Hosts) -> None:
    """Host B fetched version 1's files from the bucket at start and answers with it."""
    assert 1 == answering_version(hosts.b)


@pytest.fixture
def monitor(tmp_path: Path, postgres_url: str, hosts: Hosts) -> Iterator[Path]:
    """`driftline monitor` on a third host (a model store of its own) checking every second and retraining on the
    first drifted window; yields its folder."""
    folder = tmp_path / "monitor-host"
    folder.mkdir()
    config = write_config(
        folder,
        hosts.a.config.parent / "loans.csv",  # the data host A trained on
        store__url=postgres_url,
        store__artifacts_url=hosts.artifacts_url,
        store__artifacts_options=hosts.s3.options(),
        monitoring__window_rows=1000,
        monitoring__min_rows=200,
        monitoring__interval_seconds=1,
        monitoring__drift_share=0.2,
        monitoring__reports_dir=str(folder / "reports"),
        monitoring__niceness=0,
        retrain__consecutive_windows=1,
        retrain__cooldown_seconds=3,
        retrain__min_labeled_rows=300,
        retrain__live_rows=1500,
    )
    with contextlib.ExitStack() as started:
        process = start_driftline("monitor", free_port(), config=config, log=folder / "monitor.log")
        started.callback(stop_process_group, process)
        yield folder


def send_labelled_traffic(services: list[Served], frame: pd.DataFrame) -> None:
    """`frame`'s rows to the services in turn, in requests of 20 rows, then their true labels once logged."""
    rows = [feature_row(frame, index) for index in range(len(frame))]
    labels: list[list[dict[str, Any]]] = [[] for _ in services]
    with httpx.Client(timeout=60) as client:
        for number, start in enumerate(range(0, len(rows), 20)):
            answer = client.post(f"{services[number % len(services)].url}/predict", json=rows[start : start + 20])
            truth = frame["default"].iloc[start : start + 20].tolist()
            labels[number % len(services)] += [
                {"request_id": p["request_id"], "label": int(t)}
                for p, t in zip(answer.json()["predictions"], truth, strict=True)
            ]
        for service, items in zip(services, labels, strict=True):
            ids = [item["request_id"] for item in items]
            wait_for("the predictions to be logged", lambda s=service, i=ids: len(s.logged(i)) == len(i), 60)
            assert 200 == client.post(f"{service.url}/feedback", json=items).status_code


def test_a_version_the_monitor_retrains_on_drift_reaches_both_hosts(hosts: Hosts, monitor: Path) -> None:
    """Drifted, labelled traffic through both hosts: the monitor on a third host retrains and promotes, and both
    hosts fetch the new version from the bucket and answer with it within the poll plus the fetch."""
    send_labelled_traffic([hosts.a, hosts.b], new_regime(1500, seed=41))
    promoted = wait_for(
        "the monitor to promote a retrained version",
        lambda: [p for p in hosts.a.store.promotion_history() if p["kind"] == "auto"],
        240,
        every=1,
    )[0]["version"]
    for service in (hosts.a, hosts.b):
        wait_for(
            f"{service.url} to serve version {promoted}",
            lambda s=service: answering_version(s) == promoted,
            REACH_SECONDS,
        )
    assert [promoted, promoted] == [answering_version(hosts.a), answering_version(hosts.b)]


def test_an_object_changed_in_the_bucket_is_refused_and_both_hosts_keep_their_version(hosts: Hosts) -> None:
    """The promoted version's pipeline altered in the bucket: each host refuses it, counts it, and serves on."""
    second = hosts.new_version()
    hosts.change_object(second.hashes[PIPELINE_FILE])
    hosts.third.promote(second.version, kind="manual", reason="test")  # its own copy is intact
    label = {"model_version": str(second.version)}
    for service in (hosts.a, hosts.b):
        wait_for(
            "the swap to be refused", lambda s=service: s.metric("driftline_model_swaps_refused_total", **label), 30
        )
    assert [1, 1] == [answering_version(hosts.a), answering_version(hosts.b)]


def test_a_refused_object_is_named_in_the_log(hosts: Hosts) -> None:
    """The refusal names the object in the bucket whose content does not match its hash."""
    second = hosts.new_version()
    digest = second.hashes[PIPELINE_FILE]
    hosts.change_object(digest)
    hosts.third.promote(second.version, kind="manual", reason="test")
    wait_for(
        "the refusal in host B's log",
        lambda: f"{hosts.artifacts_url}/sha256/{digest} refused" in hosts.b.log_text(),
        30,
    )
    assert "testing-secret" not in hosts.b.log_text()


def test_no_prediction_fails_while_the_s3_server_is_gone(hosts: Hosts) -> None:
    """With the S3 server stopped and a new version promoted, both hosts answer every request with the old one,
    count their failed fetches, and stay ready."""
    second = hosts.new_version().version
    with Load(hosts.a.url, threads=1, pause=0.05) as load_a, Load(hosts.b.url, threads=1, pause=0.05) as load_b:
        hosts.s3.stop()
        hosts.third.promote(second, kind="manual", reason="test")
        for service in (hosts.a, hosts.b):
            wait_for("a failed fetch", lambda s=service: s.metric("driftline_artifact_fetch_failures_total"), 30)
    outcomes = load_a.snapshot() + load_b.snapshot()
    failed: list[Any] = [(o.status, o.error) for o in outcomes if o.status != 200]
    assert [] == failed
    assert [200, 200] == [httpx.get(f"{s.url}/readyz", timeout=10).status_code for s in (hosts.a, hosts.b)]
