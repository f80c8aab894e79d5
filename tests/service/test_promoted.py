from __future__ import annotations

from driftline.core import Registry, Settings
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
