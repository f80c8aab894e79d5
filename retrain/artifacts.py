"""Writes a version's files into the BentoML model store, where the registry records them afterwards, and deletes
those of versions retention prunes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
import joblib
import pandas as pd

from driftline.bentoml_compat import create_model, model_store
from driftline.core import NANNY_FILE, PERFORMANCE_FILE, PIPELINE_FILE, REFERENCE_FILE
from retrain.performance_reference import PerformanceReference


def write_artifacts(
    model_dir: Path,
    name: str,
    pipeline: Any,
    reference: pd.DataFrame,
    metadata: dict[str, Any],
    performance: PerformanceReference | None = None,
) -> tuple[Path, str]:
    """Save the pipeline, its reference sample and its performance reference (when there is one) as one BentoML
    model; returns its folder and tag."""
    # the model store under `model_dir` (what BENTOML_HOME points at), whatever this process's BENTOML_HOME is
    store = model_store(Path(model_dir).resolve() / "models")
    with create_model(
        store, name, labels={"framework": "sklearn", "owner": "driftline"}, metadata=metadata, module="driftline"
    ) as model:
        joblib.dump(pipeline, model.path_of(PIPELINE_FILE))
        reference.to_parquet(model.path_of(REFERENCE_FILE), index=False)
        if performance is not None:
            performance.frame.to_parquet(model.path_of(PERFORMANCE_FILE), index=False)
            if performance.nanny is not None:
                joblib.dump(performance.nanny, model.path_of(NANNY_FILE))
    # the context manager writes to a temporary folder and moves it into the store on exit
    stored = store.get(model.tag)
    return Path(stored.path), str(stored.tag)


def delete_artifacts(model_dir: Path, tag: str) -> bool:
    """Remove the BentoML model `tag` from the store under `model_dir`; False when it was not there."""
    try:
        model_store(Path(model_dir).resolve() / "models").delete(tag)
    except bentoml.exceptions.NotFound:
        return False
    return True
