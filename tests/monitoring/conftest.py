"""Prediction records written to the store the way the service writes them, for the monitor to read."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np
import pandas as pd

from driftline.core import Registry, prediction_records
from tests.factories import CATEGORICAL, NUMERIC
from tests.store_reads import recent_predictions

_ids = itertools.count()


def log_predictions(registry: Registry, rows: pd.DataFrame, *, labels: pd.Series | None = None) -> list[str]:
    """Predict `rows` with the production model and log them (and their labels when given)."""
    model = registry.load(registry.production().version)
    features = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows[NUMERIC + CATEGORICAL].to_dict("records")
    ]
    outputs = model.predict_rows(features)
    ids = [f"r{next(_ids)}" for _ in features]
    now = time.time()
    registry.store.insert_predictions(
        prediction_records(ids, features, outputs, model_version=model.version, created_at=now, latency_ms=1.0)
    )
    if labels is not None:
        registry.store.record_feedback(dict(zip(ids, (int(v) for v in labels), strict=True)))
    return ids


def first_output(registry: Registry) -> dict[str, Any]:
    return recent_predictions(registry.store, 1)[0]["output"]
