from __future__ import annotations

import time

import pytest

from driftline.core import ArtifactStoreUnavailable, Registry, Settings
from driftline.core.registry import PIPELINE_FILE
from retrain import TrainingOutcome, train
from service.promoted import PromotedModel
from tests.processes import wait_for


def test_the_served_model_follows_the_production_pointer(
    trained: TrainingOutcome, settings: Settings, registry: Registry
) -> None:
    """A promotion is picked up by swap_if_changed, and by the watch thread within its poll interval."""
    served = PromotedModel(registry)
    assert (trained.version.version, False) == (served.current.version, served.swap_if_changed())
    second = train(settings, registry, trigger="test").version.version
    registry.promote(second, kind="manual", reason="test")
    served.watch(0.05)
    try:
        wait_for(f"the watch thread to swap to version {second}", lambda: served.current.version == second, 5, 0.02)
    finally:
        served.stop()
    assert second == served.current.version


def test_a_corrupt_new_version_is_refused_and_the_old_one_keeps_serving(
    trained: TrainingOutcome, settings: Settings, registry: Registry
) -> None:
    """If the new production artifact fails its hash check, the worker keeps the version it has."""
    served = PromotedModel(registry)
    second = train(settings, registry, trigger="test").version
    registry.promote(second.version, kind="manual", reason="test")
    path = registry.model_dir / second.artifact_dir / PIPELINE_FILE
    path.write_bytes(path.read_bytes() + b"tampered")
    assert not served.swap_if_changed()
    assert trained.version.version == served.current.version


class UnreachableArtifacts:
    """An artifact store whose every fetch finds it unavailable, as when the object store is down."""

    url = "s3://bucket/prefix"

    def __init__(self) -> None:
        self.fetches = 0

    def fetch(self, sha256: str, destination: object, *, version: int | None = None) -> None:
        self.fetches += 1
        raise ArtifactStoreUnavailable(self.url, f"version {version} could not be fetched", "ConnectTimeoutError")


@pytest.fixture
def promoted_elsewhere(trained: TrainingOutcome, settings: Settings, registry: Registry) -> tuple[PromotedModel, int]:
    """A worker serving version 1 while a second version, whose files this host lacks, is promoted."""
    served = PromotedModel(registry, fetch_retry_seconds=60)
    second = train(settings, registry, trigger="test").version
    registry.promote(second.version, kind="manual", reason="test")
    (registry.model_dir / second.artifact_dir / PIPELINE_FILE).unlink()
    registry.artifacts = UnreachableArtifacts()  # type: ignore[assignment]
    return served, second.version


def test_an_unreachable_artifact_store_keeps_the_served_version(
    trained: TrainingOutcome, promoted_elsewhere: tuple[PromotedModel, int]
) -> None:
    """A swap that cannot fetch the new files leaves the loaded version serving."""
    served, _ = promoted_elsewhere
    served.swap_if_changed()
    assert trained.version.version == served.current.version


def test_a_failed_fetch_is_counted_and_retried_only_after_a_pause(
    registry: Registry, promoted_elsewhere: tuple[PromotedModel, int]
) -> None:
    """Each failed fetch reaches on_fetch_failed; polls within the back-off pause do not try again."""
    served, second = promoted_elsewhere
    failed: list[int] = []
    served.on_fetch_failed.append(lambda version, _error: failed.append(version))
    served.swap_if_changed()
    served.swap_if_changed()
    assert [second] == failed


def test_a_fetch_that_failed_is_tried_again_once_the_pause_is_over(
    registry: Registry, promoted_elsewhere: tuple[PromotedModel, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unlike a refused version, one whose store was unreachable is fetched again later."""
    served, _ = promoted_elsewhere
    served.swap_if_changed()
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    served.swap_if_changed()
    assert 2 == registry.artifacts.fetches  # type: ignore[union-attr]
