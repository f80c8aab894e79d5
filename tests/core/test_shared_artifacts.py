"""Two hosts, each with its own model store, sharing one store of records and one artifact store (a folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.core import ArtifactIntegrityError, ArtifactStore, Registry, Settings, Store, load_settings
from driftline.core.registry import MODEL_DESCRIPTION_FILE, PIPELINE_FILE
from retrain import TrainingOutcome, train
from tests.factories import write_config


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    return tmp_path / "bucket"


@pytest.fixture
def settings(tmp_path: Path, loans_csv: Path, bucket: Path) -> Settings:
    return load_settings(write_config(tmp_path, loans_csv, store__artifacts_url=f"file://{bucket}"))


@pytest.fixture
def host_b(tmp_path: Path, settings: Settings, bucket: Path) -> Iterator[Registry]:
    store = Store(settings.store.url)
    yield Registry(store, tmp_path / "host-b", ArtifactStore(f"file://{bucket}"))
    store.dispose()


def test_every_file_of_a_version_is_in_the_artifact_store(
    bucket: Path, registry: Registry, trained: TrainingOutcome
) -> None:
    """Registration uploads each recorded file under its hash."""
    stored = {path.name for path in (bucket / "sha256").iterdir()}
    assert set(trained.version.hashes.values()) == stored


def test_another_host_loads_a_version_it_never_held(host_b: Registry, trained: TrainingOutcome) -> None:
    """A host without the files fetches and verifies them, then loads the version."""
    assert trained.version.version == host_b.load(trained.version.version).version


def test_another_host_holds_the_whole_bentoml_model_after_a_fetch(host_b: Registry, trained: TrainingOutcome) -> None:
    """ensure_local writes every recorded file, BentoML's model.yaml included, into the host's model store."""
    folder = host_b.ensure_local(trained.version)
    assert (folder / MODEL_DESCRIPTION_FILE).is_file()


def test_a_changed_object_is_refused_on_the_host_that_fetches_it(
    bucket: Path, host_b: Registry, trained: TrainingOutcome
) -> None:
    """An object altered in the artifact store is refused before joblib opens it, naming the object."""
    digest = trained.version.hashes[PIPELINE_FILE]
    (bucket / "sha256" / digest).write_bytes(b"not the pipeline")
    with pytest.raises(ArtifactIntegrityError, match=f"sha256/{digest} refused"):
        host_b.load(trained.version.version)


def test_a_corrupt_local_copy_is_replaced_from_the_artifact_store(registry: Registry, trained: TrainingOutcome) -> None:
    """With a shared store the local model store is a cache: a damaged file is fetched again, verified."""
    path = registry.model_dir / trained.version.artifact_dir / PIPELINE_FILE
    path.write_bytes(b"damaged")
    assert trained.version.version == registry.load(trained.version.version).version


def test_an_unset_artifacts_url_keeps_the_files_only_in_the_model_store(tmp_path: Path, loans_csv: Path) -> None:
    """The default copies nothing: the local model store is the only artifact store."""
    folder = tmp_path / "single"
    folder.mkdir()
    single = load_settings(write_config(folder, loans_csv))
    store = Store(single.store.url)
    train(single, Registry.configured(store, single.store), trigger="test")
    store.dispose()
    assert ["bentoml", "store.db"] == sorted(path.name for path in folder.iterdir() if path.suffix != ".yaml")
