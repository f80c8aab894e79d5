"""Two service hosts with separate model stores, sharing nothing but PostgreSQL and an S3 bucket (moto's server):
a version trained on one is served by the other; a promotion made on a third reaches both; an object changed in
the bucket is refused by name; the S3 server going away fails no prediction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftline.core import ArtifactStore, ModelVersion, Registry, Store
from driftline.core.registry import PIPELINE_FILE
from retrain import train
from tests.factories import feature_row, make_loans
from tests.processes import MotoS3, Served, moto_server, wait_for
from tests.reliability.load import Load

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


def test_a_promotion_made_elsewhere_reaches_both_hosts(hosts: Hosts) -> None:
    """A version trained and promoted on a third host is fetched and served by both service hosts."""
    second = hosts.new_version().version
    hosts.third.promote(second, kind="manual", reason="test")
    for service in (hosts.a, hosts.b):
        wait_for(f"{service.url} to serve version {second}", lambda s=service: answering_version(s) == second, 30)
    assert [second, second] == [answering_version(hosts.a), answering_version(hosts.b)]


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
