from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from driftline.core import ArtifactIntegrityError, ArtifactStore
from driftline.core.artifact_store import sha256_of, shown_url


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    return tmp_path / "bucket"


@pytest.fixture
def artifacts(bucket: Path) -> ArtifactStore:
    return ArtifactStore(f"file://{bucket}")


@pytest.fixture
def uploaded(tmp_path: Path, artifacts: ArtifactStore) -> tuple[Path, str]:
    source = tmp_path / "pipeline.joblib"
    source.write_bytes(b"fitted pipeline bytes")
    digest = sha256_of(source)
    artifacts.upload(source, digest)
    return source, digest


def test_a_file_is_stored_under_its_sha256(bucket: Path, uploaded: tuple[Path, str]) -> None:
    """An upload lands at sha256/<hash>, content-addressed."""
    source, digest = uploaded
    assert source.read_bytes() == (bucket / "sha256" / digest).read_bytes()


def test_a_second_upload_of_the_same_bytes_leaves_one_object(
    bucket: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]
) -> None:
    """Uploading the same bytes again leaves one object under the hash and nothing staged beside it."""
    source, digest = uploaded
    artifacts.upload(source, digest)
    assert [digest] == sorted(path.name for path in (bucket / "sha256").iterdir())


def test_a_fetch_writes_the_verified_file(tmp_path: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]) -> None:
    """A fetched file holds the uploaded bytes at the destination."""
    source, digest = uploaded
    destination = tmp_path / "host-b" / "models" / "pipeline.joblib"
    artifacts.fetch(digest, destination)
    assert source.read_bytes() == destination.read_bytes()


def test_a_changed_object_is_refused_by_name(
    tmp_path: Path, bucket: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]
) -> None:
    """An object whose bytes no longer match its hash is refused, naming its location."""
    _, digest = uploaded
    (bucket / "sha256" / digest).write_bytes(b"something else")
    with pytest.raises(ArtifactIntegrityError, match=f"{bucket}/sha256/{digest} refused: its content's sha256"):
        artifacts.fetch(digest, tmp_path / "host-b" / "pipeline.joblib", version=3)


def test_a_refused_fetch_leaves_no_file(
    tmp_path: Path, bucket: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]
) -> None:
    """Nothing is left in the destination folder when verification fails, not even the staged download."""
    _, digest = uploaded
    (bucket / "sha256" / digest).write_bytes(b"something else")
    folder = tmp_path / "host-b"
    with pytest.raises(ArtifactIntegrityError):
        artifacts.fetch(digest, folder / "pipeline.joblib")
    assert [] == list(folder.iterdir())


def test_a_missing_object_is_refused(tmp_path: Path, artifacts: ArtifactStore) -> None:
    """Fetching a hash nobody uploaded names the missing object."""
    with pytest.raises(ArtifactIntegrityError, match="object is missing"):
        artifacts.fetch("0" * 64, tmp_path / "host-b" / "pipeline.joblib")


def test_credentials_and_query_are_not_shown() -> None:
    """The URL shown in messages has no user, password or query string."""
    assert "s3://bucket/prefix" == shown_url("s3://key:secret@bucket/prefix?token=abc")


def age(path: Path, seconds: float) -> None:
    """Make `path` look written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def two_old_objects(tmp_path: Path, bucket: Path, artifacts: ArtifactStore) -> tuple[str, str]:
    """Two objects written two days ago; returns their hashes."""
    digests = []
    for content in (b"kept version", b"pruned version"):
        source = tmp_path / "file"
        source.write_bytes(content)
        digest = sha256_of(source)
        artifacts.upload(source, digest)
        age(bucket / "sha256" / digest, 2 * 86_400)
        digests.append(digest)
    return digests[0], digests[1]


def test_a_sweep_deletes_old_objects_no_version_names(
    bucket: Path, artifacts: ArtifactStore, two_old_objects: tuple[str, str]
) -> None:
    """Of two old objects, the one a version names stays and the other is deleted."""
    named, _ = two_old_objects
    artifacts.sweep({named}, written_before=time.time() - 86_400)
    assert [named] == [path.name for path in (bucket / "sha256").iterdir()]


def test_a_sweep_keeps_objects_younger_than_its_cut_off(
    bucket: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]
) -> None:
    """An object just written, for a version whose row does not exist yet, is kept though nothing names it."""
    _, digest = uploaded
    swept = artifacts.sweep(set(), written_before=time.time() - 86_400)
    assert (0, [digest]) == (swept, [path.name for path in (bucket / "sha256").iterdir()])


def test_a_sweep_deletes_an_old_interrupted_upload(
    bucket: Path, artifacts: ArtifactStore, uploaded: tuple[Path, str]
) -> None:
    """A staged upload left by an interrupted upload goes once old, even under a hash a version names."""
    _, digest = uploaded
    staged = bucket / "sha256" / f"{digest}.partial-0123456789abcdef"
    staged.write_bytes(b"half")
    age(staged, 2 * 86_400)
    artifacts.sweep({digest}, written_before=time.time() - 86_400)
    assert [digest] == [path.name for path in (bucket / "sha256").iterdir()]


def test_a_sweep_of_an_empty_store_deletes_nothing(artifacts: ArtifactStore) -> None:
    """Before the first upload there is no folder, and a sweep finds nothing to delete."""
    assert 0 == artifacts.sweep(set(), written_before=time.time())


def test_an_old_object_uploaded_again_outlives_a_sweep(
    tmp_path: Path, bucket: Path, artifacts: ArtifactStore, two_old_objects: tuple[str, str]
) -> None:
    """An old object no version names, uploaded again for a version not yet recorded, is inside the grace again."""
    _, unnamed = two_old_objects
    source = tmp_path / "again"
    source.write_bytes(b"pruned version")
    artifacts.upload(source, unnamed)
    artifacts.sweep(set(), written_before=time.time() - 86_400)
    assert [unnamed] == [path.name for path in (bucket / "sha256").iterdir() if path.name == unnamed]
