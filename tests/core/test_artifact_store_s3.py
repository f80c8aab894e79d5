"""The artifact store on a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftline.core import ArtifactIntegrityError, ArtifactStore, ArtifactStoreUnavailable
from driftline.core.artifact_store import sha256_of
from tests.processes import MotoS3, moto_server

pytestmark = pytest.mark.integration


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.joblib"
    path.write_bytes(b"fitted pipeline bytes")
    return path


def test_a_file_round_trips_through_s3(tmp_path: Path, s3_server: MotoS3, source: Path) -> None:
    """What one host uploads, another fetches byte for byte."""
    url = s3_server.new_bucket()
    digest = sha256_of(source)
    ArtifactStore(url, s3_server.options()).upload(source, digest)
    ArtifactStore(url, s3_server.options()).fetch(digest, tmp_path / "host-b" / source.name)
    assert source.read_bytes() == (tmp_path / "host-b" / source.name).read_bytes()


def test_an_object_changed_in_the_bucket_is_refused_by_name(tmp_path: Path, s3_server: MotoS3, source: Path) -> None:
    """Bytes put under a hash they do not have are refused, naming the object."""
    url = s3_server.new_bucket()
    digest = sha256_of(source)
    artifacts = ArtifactStore(url, s3_server.options())
    artifacts.upload(source, digest)
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    s3_server.client().put_object(Bucket=bucket, Key=f"{prefix}/sha256/{digest}", Body=b"other bytes")
    with pytest.raises(ArtifactIntegrityError, match=f"{url}/sha256/{digest} refused"):
        artifacts.fetch(digest, tmp_path / "host-b" / source.name)


def test_a_stopped_server_is_unavailable_naming_the_url_only(tmp_path: Path, source: Path) -> None:
    """With the S3 server gone, a fetch says which store is unavailable and shows none of its credentials."""
    with moto_server() as server:
        url = server.new_bucket()
        artifacts = ArtifactStore(url, server.options())
        digest = sha256_of(source)
        artifacts.upload(source, digest)
        server.stop()
        with pytest.raises(ArtifactStoreUnavailable) as caught:
            artifacts.fetch(digest, tmp_path / "host-b" / source.name)
    assert f"the artifact store {url} is unavailable (EndpointConnectionError); nothing was fetched" == str(
        caught.value
    )


def test_a_sweep_deletes_the_objects_no_version_names_from_the_bucket(
    tmp_path: Path, s3_server: MotoS3, source: Path
) -> None:
    """On S3, a sweep past both objects' age deletes the unnamed one; a fresh host still fetches the named one."""
    url = s3_server.new_bucket()
    artifacts = ArtifactStore(url, s3_server.options())
    named = sha256_of(source)
    artifacts.upload(source, named)
    pruned = tmp_path / "pruned.joblib"
    pruned.write_bytes(b"a pruned version's pipeline")
    artifacts.upload(pruned, sha256_of(pruned))
    swept = artifacts.sweep({named}, written_before=time.time() + 60)
    artifacts.fetch(named, tmp_path / "host-b" / source.name)
    assert 1 == swept


def test_a_sweep_keeps_young_objects_in_the_bucket(tmp_path: Path, s3_server: MotoS3, source: Path) -> None:
    """On S3, an object written after the sweep's cut-off stays though no version names it."""
    url = s3_server.new_bucket()
    artifacts = ArtifactStore(url, s3_server.options())
    digest = sha256_of(source)
    artifacts.upload(source, digest)
    swept = artifacts.sweep(set(), written_before=time.time() - 3600)
    artifacts.fetch(digest, tmp_path / "host-b" / source.name)
    assert 0 == swept
