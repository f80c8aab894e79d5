"""Artifacts changed or deleted on disk after registration: refused by load, promotion and the CLI, naming the
version and the file; production stays where it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from driftline.cli.main import main
from driftline.core import ArtifactIntegrityError, Registry, Settings
from driftline.core.registry import PERFORMANCE_FILE, PIPELINE_FILE, REFERENCE_FILE
from retrain import TrainingOutcome, train


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def replace_with_other_pickle(path: Path) -> None:
    """A well-formed joblib file of the same kind, but not the one registered."""
    import joblib

    joblib.dump({"not": "the model"}, path)


TAMPERING: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("pipeline altered", PIPELINE_FILE, flip_a_byte, "sha256"),
    ("pipeline replaced", PIPELINE_FILE, replace_with_other_pickle, "sha256"),
    ("pipeline deleted", PIPELINE_FILE, Path.unlink, "file is missing"),
    ("reference altered", REFERENCE_FILE, flip_a_byte, "sha256"),
    ("reference deleted", REFERENCE_FILE, Path.unlink, "file is missing"),
    ("performance reference altered", PERFORMANCE_FILE, flip_a_byte, "sha256"),
    ("performance reference deleted", PERFORMANCE_FILE, Path.unlink, "file is missing"),
]


@pytest.fixture
def second(settings: Settings, registry: Registry, trained: TrainingOutcome) -> int:
    """A second registered version, not in production."""
    return train(settings, registry, trigger="test").version.version


@pytest.mark.parametrize(("case", "file_name", "tamper", "reason"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_a_tampered_version_is_refused_by_promotion_naming_version_and_file(
    registry: Registry,
    trained: TrainingOutcome,
    second: int,
    case: str,
    file_name: str,
    tamper: Callable[[Path], None],
    reason: str,
) -> None:
    """Promotion checks every file first; the error names the version, the file and why; nothing is recorded."""
    history = registry.store.promotion_history()
    tamper(registry.model_dir / registry.get(second).artifact_dir / file_name)
    with pytest.raises(ArtifactIntegrityError) as refused:
        registry.promote(second, kind="manual", reason="tampered")
    message = str(refused.value)
    assert f"model version {second}:" in message and file_name in message and reason in message
    assert second == refused.value.version
    assert trained.version.version == registry.production().version
    assert history == registry.store.promotion_history()


def test_a_tampered_pipeline_is_never_unpickled(registry: Registry, second: int, tmp_path: Path) -> None:
    """A pickle whose payload would run code is refused by its hash before joblib opens it."""
    import pickle

    marker = tmp_path / "unpickled.marker"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path(marker).touch, ())  # type: ignore[return-value]

    path = registry.model_dir / registry.get(second).artifact_dir / PIPELINE_FILE
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        registry.load(second)
    assert not marker.exists()


def test_rollback_to_a_tampered_version_is_refused(registry: Registry, trained: TrainingOutcome, second: int) -> None:
    """Rolling back onto a version whose files changed fails; the current version stays."""
    registry.promote(second, kind="manual", reason="fine")
    flip_a_byte(registry.model_dir / trained.version.artifact_dir / PIPELINE_FILE)
    with pytest.raises(ArtifactIntegrityError, match=f"model version {trained.version.version}:"):
        registry.rollback()
    assert second == registry.production().version


def test_the_cli_refuses_to_promote_a_tampered_version(
    config_file: Path, registry: Registry, trained: TrainingOutcome, second: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """`driftline promote` exits 2 with one line naming the version and the file."""
    (registry.model_dir / registry.get(second).artifact_dir / REFERENCE_FILE).unlink()
    assert 2 == main(["promote", str(second), "--config", str(config_file)])
    err = capsys.readouterr().err
    assert f"model version {second}:" in err and REFERENCE_FILE in err and "file is missing" in err
    assert trained.version.version == registry.production().version
