from __future__ import annotations

import pytest

from driftline.core import ArtifactIntegrityError, NoProductionModel, PromotionRefused, Registry
from driftline.core.registry import PIPELINE_FILE, REFERENCE_FILE, sha256_of
from retrain import TrainingOutcome


def test_registration_records_every_artifact_hash(registry: Registry, trained: TrainingOutcome) -> None:
    """The store holds the sha256 of the pipeline and of the reference sample."""
    version = trained.version
    folder = registry.model_dir / version.artifact_dir
    assert sha256_of(folder / PIPELINE_FILE) == version.hashes[PIPELINE_FILE]
    assert sha256_of(folder / REFERENCE_FILE) == version.hashes[REFERENCE_FILE]
    assert version.artifact_tag.startswith("loans:")


def test_a_tampered_artifact_is_refused_before_unpickling(registry: Registry, trained: TrainingOutcome) -> None:
    """Changing one byte of the pipeline makes load() raise, naming the file."""
    path = registry.model_dir / trained.version.artifact_dir / PIPELINE_FILE
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"pipeline\.joblib refused: sha256"):
        registry.load(trained.version.version)


def test_promotion_of_a_corrupt_version_is_refused(registry: Registry, trained: TrainingOutcome) -> None:
    """A version whose reference file is gone cannot become production; the pointer stays."""
    from retrain import train

    second = train(registry_settings(registry), registry, trigger="test").version.version
    (registry.model_dir / registry.get(second).artifact_dir / REFERENCE_FILE).unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        registry.promote(second, kind="manual", reason="x")
    assert trained.version.version == registry.production().version


def test_rollback_returns_to_the_previous_production_version(registry: Registry, trained: TrainingOutcome) -> None:
    """Rollback is a promotion of the version before, recorded as such."""
    from retrain import train

    second = train(registry_settings(registry), registry, trigger="test").version.version
    registry.promote(second, kind="manual", reason="try it")
    assert trained.version.version == registry.rollback()
    assert registry.store.promotion_history()[-1]["kind"] == "rollback"
    with pytest.raises(PromotionRefused, match="no earlier production version"):
        registry.rollback()


def test_nothing_in_production_is_a_clear_error(registry: Registry) -> None:
    """Before any training the registry says what to do."""
    with pytest.raises(NoProductionModel, match="driftline train"):
        registry.production()


def registry_settings(registry: Registry):  # type: ignore[no-untyped-def]
    """The settings the `registry` fixture was built from (same store and model folder)."""
    from driftline.core import load_settings

    return load_settings(registry.model_dir.parent / "driftline.yaml")
