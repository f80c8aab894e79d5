"""The prediction record: what the service logs for every answered row, and what the monitor reads back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict


class PredictionRecord(TypedDict):
    """One row of the prediction log, as written to the store."""

    request_id: str
    created_at: float  # seconds since the epoch
    model_version: int
    features: Mapping[str, Any]
    output: Mapping[str, Any]
    latency_ms: float


def prediction_records(
    request_ids: Iterable[str],
    features: Iterable[Mapping[str, Any]],
    outputs: Iterable[Mapping[str, Any]],
    *,
    model_version: int,
    created_at: float,
    latency_ms: float,
) -> list[PredictionRecord]:
    """One record per answered row; the three sequences must be of the same length."""
    return [
        {
            "request_id": rid,
            "created_at": created_at,
            "model_version": model_version,
            "features": row,
            "output": output,
            "latency_ms": latency_ms,
        }
        for rid, row, output in zip(request_ids, features, outputs, strict=True)
    ]
