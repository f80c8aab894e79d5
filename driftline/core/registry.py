"""The model registry: versions and their artifacts, the production pointer, promotion and rollback.

Artifacts are written into the BentoML model store; this module never imports BentoML. Whoever writes a version's
files (the training pipeline, through the BentoML API) hands the folder to `Registry.register`, which records the
sha256 of every file. Loading checks those hashes first, so a tampered or corrupt artifact is refused, not
unpickled. Registration is the commit point: a folder without a version row can never be loaded or promoted.

With a shared artifact store (`store.artifacts_url`), `register` uploads every file there, by its hash, before the
row exists, and a host's model store becomes a cache: a file it lacks (or holds corrupt) is fetched and verified
before it is opened. Without one, the local model store is the only copy, as on a single machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from driftline.core.artifact_store import ArtifactStore, sha256_of
from driftline.core.details import VersionDetails
from driftline.core.errors import ArtifactIntegrityError, NoProductionModel, PromotionRefused
from driftline.core.model import LoadedModel
from driftline.core.schema import FeatureSchema
from driftline.core.settings import StoreSettings
from driftline.core.store import Store, VersionRow

PIPELINE_FILE = "pipeline.joblib"
REFERENCE_FILE = "reference.parquet"
# written by versions trained since performance estimation exists: holdout labels with the model's outputs, and
# (regressors) the nanny models that learnt each row's loss; a version without them is served and checked as before
PERFORMANCE_FILE = "performance.parquet"
NANNY_FILE = "nanny.joblib"
OPTIONAL_FILES = (PERFORMANCE_FILE, NANNY_FILE)
# BentoML's description of the model; stored with the version so that a host's cache is a whole BentoML model
MODEL_DESCRIPTION_FILE = "model.yaml"


@dataclass(frozen=True)
class ModelVersion:
    """A registered version as recorded in the store."""

    version: int
    name: str
    status: str
    artifact_dir: str
    artifact_tag: str
    hashes: dict[str, str]
    schema: FeatureSchema
    details: VersionDetails
    created_at: float
    status_reason: str | None

    @classmethod
    def from_row(cls, row: VersionRow) -> ModelVersion:
        return cls(
            version=row["version"],
            name=row["name"],
            status=row["status"],
            artifact_dir=row["artifact_dir"],
            artifact_tag=row["artifact_tag"],
            hashes=row["hashes"],
            schema=FeatureSchema.from_dict(row["schema"]),
            details=row["details"],
            created_at=row["created_at"],
            status_reason=row["status_reason"],
        )

    @property
    def champion_version(self) -> int | None:
        """The version a retrain compared this one with on its holdout (its `baseline_metrics` are that version's
        scores there); None for a version trained on the configured data, whose baseline is a dummy model."""
        champion = (self.details.get("evidence") or {}).get("champion_version")
        return int(champion) if champion is not None else None


class Registry:
    """Registered versions, their verified artifacts, and who is in production."""

    def __init__(self, store: Store, model_dir: Path, artifacts: ArtifactStore | None = None) -> None:
        self.store = store
        self.model_dir = Path(model_dir).resolve()
        self.artifacts = artifacts

    @classmethod
    def configured(cls, store: Store, settings: StoreSettings) -> Registry:
        """The registry `settings` describe: their model store, and their shared artifact store if one is set."""
        artifacts = None
        if settings.artifacts_url is not None:
            artifacts = ArtifactStore(settings.artifacts_url, settings.artifacts_options)
        return cls(store, settings.model_dir, artifacts)

    def register(
        self,
        folder: Path,
        *,
        name: str,
        tag: str,
        schema: FeatureSchema,
        details: VersionDetails,
        status: str = "registered",
        status_reason: str | None = None,
    ) -> ModelVersion:
        """Record the files already written in `folder` (inside the model store) as a new version, once they are
        in the shared artifact store when there is one."""
        folder = Path(folder).resolve()
        required = [PIPELINE_FILE, REFERENCE_FILE]
        for file_name in required:
            if not (folder / file_name).is_file():
                raise ArtifactIntegrityError(str(folder / file_name), "file was not written")
        optional = (*OPTIONAL_FILES, MODEL_DESCRIPTION_FILE)
        files = required + [name for name in optional if (folder / name).is_file()]
        hashes = {file_name: sha256_of(folder / file_name) for file_name in files}
        if self.artifacts is not None:
            for file_name, digest in hashes.items():
                self.artifacts.upload(folder / file_name, digest)
        version = self.store.add_version(
            name=name,
            artifact_dir=str(folder.relative_to(self.model_dir)),
            artifact_tag=tag,
            hashes=hashes,
            schema=schema.to_dict(),
            details=details,
            status=status,
            status_reason=status_reason,
        )
        return self.get(version)

    def get(self, version: int) -> ModelVersion:
        return ModelVersion.from_row(self.store.get_version(version))

    def versions(self) -> list[ModelVersion]:
        return [ModelVersion.from_row(row) for row in self.store.list_versions()]

    def production(self) -> ModelVersion:
        version = self.store.production_version()
        if version is None:
            raise NoProductionModel()
        return self.get(version)

    def ensure_local(self, model: ModelVersion) -> Path:
        """The version's folder in this host's model store, once the files a load opens are verified there (with a
        shared artifact store: every recorded file, fetched first where missing or corrupt)."""
        # without a store to fetch from, BentoML's own description of the model is not Driftline's to insist on
        needed = model.hashes if self.artifacts is not None else [PIPELINE_FILE, REFERENCE_FILE]
        for file_name in needed:
            self.verified_path(model, file_name)
        return self.model_dir / model.artifact_dir

    def verified_path(self, model: ModelVersion, file_name: str) -> Path:
        """The artifact file's path once its sha256 matches the recorded one.

        With a shared artifact store a local copy that is missing or differs is replaced by a verified download;
        without one it is refused.
        """
        path = self.model_dir / model.artifact_dir / file_name
        expected = model.hashes.get(file_name)
        if self.artifacts is not None and expected is not None:
            if not path.is_file() or sha256_of(path) != expected:
                self.artifacts.fetch(expected, path, version=model.version)
            return path
        if not path.is_file():
            raise ArtifactIntegrityError(str(path), "file is missing", version=model.version)
        actual = sha256_of(path)
        if expected != actual:
            raise ArtifactIntegrityError(
                str(path),
                f"sha256 {actual[:12]}… differs from the registered {str(expected)[:12]}…",
                version=model.version,
            )
        return path

    def sweep_artifacts(self, *, written_before: float) -> int:
        """Delete the shared artifact store's objects that no recorded version names, if written before
        `written_before`; returns how many went (0 without a shared store: the model store's folders are removed
        with their versions)."""
        if self.artifacts is None:
            return 0
        # a version registered after this read uploaded its objects just now, and the grace period keeps them
        named = {digest for row in self.store.list_versions() for digest in row["hashes"].values()}
        return self.artifacts.sweep(named, written_before=written_before)

    def load(self, version: int) -> LoadedModel:
        """Verify and load a version's pipeline."""
        model = self.get(version)
        path = self.verified_path(model, PIPELINE_FILE)
        try:
            pipeline = joblib.load(path)
        except Exception as exc:  # any unpickling failure means the artifact cannot be served
            raise ArtifactIntegrityError(str(path), f"cannot be loaded: {exc}", version=version) from None
        return LoadedModel.build(model.version, pipeline, model.schema)

    def reference(self, version: int) -> pd.DataFrame:
        """Verify and load the training-feature sample a version's drift is measured against."""
        model = self.get(version)
        return pd.read_parquet(self.verified_path(model, REFERENCE_FILE))

    def performance_reference(self, version: int) -> pd.DataFrame | None:
        """Verify and load the holdout labels and outputs a version's performance is estimated from; None for a
        version trained without them."""
        model = self.get(version)
        if PERFORMANCE_FILE not in model.hashes:
            return None
        return pd.read_parquet(self.verified_path(model, PERFORMANCE_FILE))

    def nanny(self, version: int) -> dict[str, Any] | None:
        """Verify and load a regressor's nanny models (metric name -> model of each row's loss); None without."""
        model = self.get(version)
        if NANNY_FILE not in model.hashes:
            return None
        path = self.verified_path(model, NANNY_FILE)
        try:
            loaded = joblib.load(path)
        except Exception as exc:  # any unpickling failure means the artifact cannot be used
            raise ArtifactIntegrityError(str(path), f"cannot be loaded: {exc}", version=version) from None
        return dict(loaded)

    def promote(self, version: int, *, kind: str, reason: str, evidence: dict[str, Any] | None = None) -> int:
        """Make `version` production after checking its artifacts load; the pointer and history change together."""
        model = self.get(version)
        if model.status == "rejected" and kind == "auto":
            raise PromotionRefused(f"version {version} was rejected: {model.status_reason}")
        self.load(version)
        self.reference(version)
        self.performance_reference(version)
        self.nanny(version)
        return self.store.promote(version, kind=kind, reason=reason, evidence=evidence)

    def rollback(self, reason: str = "manual rollback", *, evidence: dict[str, Any] | None = None) -> int:
        """Back to the version that was in production before the current one; returns that version.

        `evidence` (e.g. who asked) is recorded with the rollback, beside the version it left.

        Rollbacks undo promotions like a stack: v1 -> v2 -> v3, then two rollbacks give v2, then v1. A version
        retention pruned ends the chain: a rollback to it is refused.
        """
        current = self.store.production_version()
        if current is None:
            raise NoProductionModel()
        lineage = self.store.rollback_lineage()
        if len(lineage) < 2:
            raise PromotionRefused(f"version {current} has no earlier production version to roll back to")
        target = lineage[-2]
        if target not in {row["version"] for row in self.store.list_versions()}:
            raise PromotionRefused(
                f"version {target}, in production before version {current}, was pruned (retention.archived_versions)"
            )
        self.promote(target, kind="rollback", reason=reason, evidence={**(evidence or {}), "from_version": current})
        return target
