"""Writes a version's files into the BentoML model store, where the registry records them afterwards, and deletes
those of versions retention prunes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import joblib
import pandas as pd
from bentoml._internal.models import ModelStore

from driftline.core import PIPELINE_FILE, REFERENCE_FILE


def bento_store(model_dir: Path) -> ModelStore:
    """The BentoML model store kept under `model_dir` (what BENTOML_HOME points at)."""
    folder = Path(model_dir).resolve() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return ModelStore(str(folder))


def write_artifacts(
    model_dir: Path, name: str, pipeline: Any, reference: pd.DataFrame, metadata: dict[str, Any]
) -> tuple[Path, str]:
    """Save the pipeline and its reference sample as one BentoML model; returns its folder and tag."""
    store = bento_store(model_dir)
    with bentoml.models.create(
        name,
        labels={"framework": "sklearn", "owner": "driftline"},
        metadata=metadata,
        module="driftline",
        _model_store=store,
    ) as model:
        joblib.dump(pipeline, model.path_of(PIPELINE_FILE))
        reference.to_parquet(model.path_of(REFERENCE_FILE), index=False)
    # the context manager writes to a temporary folder and moves it into the store on exit
    stored = store.get(model.tag)
    return Path(stored.path), str(stored.tag)


def delete_artifacts(model_dir: Path, tag: str) -> bool:
    """Remove the BentoML model `tag` from the store under `model_dir`; False when it was not there."""
    try:
        bento_store(model_dir).delete(tag)
    except bentoml.exceptions.NotFound:
        return False
    return True
