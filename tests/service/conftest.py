"""A real `driftline serve` (BentoML, two workers) on 127.0.0.1 over a trained loans model."""

from __future__ import annotations

import operator
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from driftline.core import PIPELINE_FILE, REFERENCE_FILE, Registry, VersionDetails
from tests.processes import Served, serve_trained, wait_for

WORKERS = 2  # hot swaps, micro-batches and metrics are per worker: every service test runs on more than one


def serving(folder: Path, log: Path | None = None, **overrides: Any) -> AbstractContextManager[Served]:
    """`serve_trained` on WORKERS workers."""
    return serve_trained(folder, log, workers=WORKERS, **overrides)


def settled_count(served: Served) -> int:
    """The logged row count once queued records have been written (two reads 0.4 s apart agree)."""
    counts = [-1]

    def settled() -> bool:
        counts.append(served.registry.store.count_predictions())
        return counts[-1] == counts[-2]

    wait_for("the prediction log to settle", settled, 30, every=0.4)
    return counts[-1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("served")) as running:
        yield running


def register_failing_version(registry: Registry) -> int:
    """A version that loads (its files are hash-checked like any other) and raises at every prediction: its first
    step negates the request's columns, which a categorical feature refuses."""
    champion = registry.production()
    folder = registry.model_dir / "failing" / f"v{len(registry.versions()) + 1}"
    folder.mkdir(parents=True)
    classes = np.asarray(champion.schema.classes)
    estimator = DummyClassifier(strategy="prior").fit(np.zeros((len(classes), 1)), classes)
    joblib.dump(
        Pipeline([("negate", FunctionTransformer(operator.neg)), ("estimator", estimator)]), folder / PIPELINE_FILE
    )
    shutil.copy(registry.model_dir / champion.artifact_dir / REFERENCE_FILE, folder / REFERENCE_FILE)
    details: VersionDetails = {"metric": "roc_auc", "metrics": {}}
    return registry.register(
        folder, name=champion.name, tag="failing:1", schema=champion.schema, details=details
    ).version


def start_candidate_shadow(registry: Registry, version: int, needed_rows: int = 50) -> int:
    """`version` as the running shadow of the production version, as a retrain would start it."""
    return registry.store.start_shadow(
        version,
        champion_version=registry.production().version,
        purpose="candidate",
        needed_rows=needed_rows,
        reason="passed its holdout",
    )
