"""Writes a version's files into the BentoML model store; the registry records them afterwards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from driftline.bentoml_compat import create_model, model_store
from driftline.core import PIPELINE_FILE, REFERENCE_FILE


def write_artifacts(
    model_dir: Path, name: str, pipeline: Any, reference: pd.DataFrame, metadata: dict[str, Any]
) -> tuple[Path, str]:
    """Save the pipeline and its reference sample as one BentoML model; returns its folder and tag."""
    # the model store under `model_dir` (what BENTOML_HOME points at), whatever this process's BENTOML_HOME is
    store = model_store(Path(model_dir).resolve() / "models")
    with create_model(
        store, name, labels={"framework": "sklearn", "owner": "driftline"}, metadata=metadata, module="driftline"
    ) as model:
        joblib.dump(pipeline, model.path_of(PIPELINE_FILE))
        reference.to_parquet(model.path_of(REFERENCE_FILE), index=False)
    # the context manager writes to a temporary folder and moves it into the store on exit
    stored = store.get(model.tag)
    return Path(stored.path), str(stored.tag)
