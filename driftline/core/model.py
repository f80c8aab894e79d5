"""A loaded model version and how its pipeline's outputs become response rows.

Shared by the service (answers) and the monitor (live performance), so both read predictions the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftline.core.compiled import CompiledPreprocessing
from driftline.core.jsonvalues import plain
from driftline.core.schema import FeatureSchema
from driftline.core.steps import ESTIMATOR_STEP


@dataclass(frozen=True)
class LoadedModel:
    """A verified, unpickled pipeline with the schema it was trained on."""

    version: int
    pipeline: Any
    schema: FeatureSchema
    fast: CompiledPreprocessing | None = None

    @classmethod
    def build(cls, version: int, pipeline: Any, schema: FeatureSchema) -> LoadedModel:
        """A loaded model with its numpy fast path when the pipeline allows one."""
        return cls(version, pipeline, schema, CompiledPreprocessing.compile(pipeline, schema))

    @property
    def is_classifier(self) -> bool:
        return self.schema.task == "classification"

    @property
    def classes(self) -> list[Any]:
        return [plain(c) for c in self.pipeline.classes_] if self.is_classifier else []

    def predict_arrays(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and (classifiers) the probability of each class, as arrays: the fast path for tables."""
        if not self.is_classifier:
            return np.asarray(self.pipeline.predict(frame), dtype="float64"), None
        probabilities = np.round(np.asarray(self.pipeline.predict_proba(frame), dtype="float64"), 6)
        return np.asarray(self.pipeline.classes_)[probabilities.argmax(axis=1)], probabilities

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Outputs for validated request rows, through the fast path when there is one."""
        if self.fast is None:
            return self.predict(self.schema.frame(rows))
        estimator = self.pipeline.named_steps[ESTIMATOR_STEP]
        matrix = self.fast.transform(rows)
        if not self.is_classifier:
            return self.outputs(np.asarray(estimator.predict(matrix), dtype="float64"), None)
        probabilities = np.round(np.asarray(estimator.predict_proba(matrix), dtype="float64"), 6)
        return self.outputs(np.asarray(estimator.classes_)[probabilities.argmax(axis=1)], probabilities)

    def predict(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """One output per row: the prediction, and class probabilities for a classifier."""
        return self.outputs(*self.predict_arrays(frame))

    def outputs(self, predictions: np.ndarray, probabilities: np.ndarray | None) -> list[dict[str, Any]]:
        """Response rows from `predict_arrays`' result."""
        if probabilities is None:
            return [{"prediction": float(v)} for v in predictions]
        classes = self.classes
        chosen = probabilities.argmax(axis=1)
        rounded = probabilities.tolist()
        binary = len(classes) == 2
        outputs: list[dict[str, Any]] = []
        for index, row in zip(chosen.tolist(), rounded, strict=True):
            output: dict[str, Any] = {
                "prediction": classes[index],
                "probabilities": dict(zip(map(str, classes), row, strict=True)),
            }
            if binary:
                output["probability"] = row[1]
            outputs.append(output)
        return outputs
