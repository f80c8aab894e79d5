"""What the service does, without BentoML: predict, log, take feedback, describe the production model.

The BentoML class in `app.py` only declares the HTTP API and converts; everything it calls lives here, so it is
testable without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from threadpoolctl import threadpool_limits

from driftline.core import (
    DataError,
    InvalidInput,
    LoadedModel,
    PayloadTooLarge,
    Registry,
    Settings,
    Store,
    StoreUnavailable,
    UnknownRequestIds,
    log_event,
    prediction_records,
    retrain_backoff,
    shadow_progress,
)
from service.batcher import MicroBatcher
from service.prediction_log import ListChunk, PredictionLog
from service.promoted import PromotedModel
from service.shadow import ShadowModel
from service.shadow_runner import ShadowRunner

log = logging.getLogger(__name__)

BATCH_CHUNK_ROWS = 50_000
SHADOW_QUEUE_BATCHES = 4  # micro-batches of answered rows waiting for the shadow before more are skipped
SHADOW_CALL_ROWS = 32  # short shadow calls hold the GIL the request threads need for less time at once
FEEDBACK_WAIT_SECONDS = 3.0


class RequestIds:
    """Unique ids without a uuid per row: a random per-process prefix and a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def take(self, count: int) -> list[str]:
        return [f"{self._prefix}-{next(self._counter):010x}" for _ in range(count)]


class FrameChunk:
    """Prediction records of an uploaded table, turned into dicts only on the log's writer thread."""

    def __init__(
        self,
        features: pd.DataFrame,
        model: LoadedModel,
        arrays: tuple[np.ndarray, np.ndarray | None],
        request_ids: list[str],
        created_at: float,
        latency_ms: float,
    ) -> None:
        self._features = features
        self._model = model
        self._arrays = arrays
        self._ids = request_ids
        self._version = model.version
        self._created_at = created_at
        self._latency_ms = latency_ms

    def __len__(self) -> int:
        return len(self._ids)

    def records(self) -> Sequence[Mapping[str, Any]]:
        plain = self._features.astype(object).where(self._features.notna(), None).to_dict("records")
        return prediction_records(
            self._ids,
            plain,
            self._model.outputs(*self._arrays),
            model_version=self._version,
            created_at=self._created_at,
            latency_ms=self._latency_ms,
        )


@dataclass(frozen=True)
class Predicted:
    """The outputs of one request's rows, their request ids, and the model version that answered them."""

    model: LoadedModel
    request_ids: list[str]
    outputs: list[dict[str, Any]]


class ServingRuntime:
    """The production model, the prediction log and the store, as one worker uses them."""

    def __init__(self, settings: Settings, *, watch: bool = True) -> None:
        self.settings = settings
        self.store = Store(settings.store.url)
        self.registry = Registry.configured(self.store, settings.store)
        self.model = PromotedModel(self.registry, fetch_retry_seconds=settings.serving.poll_seconds)
        self.shadow = ShadowModel(self.registry)
        self.schema = self.model.current.schema
        self.ids = RequestIds()
        self.on_predicted: list[Callable[[int, list[dict[str, Any]], str], None]] = []
        self.on_table: list[Callable[[int, np.ndarray, str], None]] = []
        self.log: PredictionLog | None = None
        self.shadow_log: PredictionLog | None = None
        self.shadow_runner: ShadowRunner | None = None  # a shadow runs only where its outputs can be logged
        batch_rows = settings.serving.micro_batch_rows
        if settings.serving.log_predictions:
            self.log = self._background_log(self.store.insert_predictions)
            self.shadow_log = self._background_log(self.store.insert_shadow_predictions)
            self.shadow_runner = ShadowRunner(
                self.shadow,
                self.shadow_log,
                max_pending_rows=SHADOW_QUEUE_BATCHES * batch_rows,
                max_rows=SHADOW_CALL_ROWS,
            )
        self.batcher: MicroBatcher[dict[str, Any]] = MicroBatcher(self._predict_rows, batch_rows)
        if watch:
            self.model.watch(settings.serving.poll_seconds)
            if self.shadow_runner is not None:  # a worker started during a shadow phase loads it at its first poll
                self.shadow.watch(settings.serving.poll_seconds)

    def _background_log(self, write_batch: Callable[[Sequence[Mapping[str, Any]]], None]) -> PredictionLog:
        serving = self.settings.serving
        return PredictionLog(
            write_batch,
            max_pending_rows=serving.log_queue_size,
            batch_size=serving.log_batch_size,
            flush_seconds=serving.log_flush_seconds,
            retry_seconds=serving.log_retry_seconds,
        )

    # predictions ---------------------------------------------------------------------------------------------

    def _predict_rows(self, rows: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], LoadedModel]:
        model = self.model.current
        return model.predict_rows(rows), model

    async def predict_outputs(self, rows: Sequence[Mapping[str, Any]], endpoint: str) -> Predicted:
        """Predict rows already checked against the feature schema, in micro-batches shared by every endpoint of
        this worker; log them and count them under `endpoint`."""
        started = time.perf_counter()
        limit = self.settings.serving.max_rows_per_request
        if len(rows) > limit:
            raise PayloadTooLarge(f"rows in one {endpoint} request", len(rows), limit)
        try:
            outputs, model = await self.batcher.submit(rows)
        except ValueError as exc:  # valid JSON the model still cannot take, e.g. a number that overflows scaling
            raise unusable_values(self.model.current, rows, exc) from None
        request_ids = self.ids.take(len(rows))
        latency_ms = (time.perf_counter() - started) * 1000
        now = time.time()
        if self.log is not None:
            self.log.submit(
                ListChunk(
                    prediction_records(
                        request_ids,
                        (dict(row) for row in rows),
                        outputs,
                        model_version=model.version,
                        created_at=now,
                        latency_ms=latency_ms,
                    )
                )
            )
        shadow = self.shadow.current
        # a shadow just promoted serves as the champion until this worker's next look at the store drops it
        if shadow is not None and self.shadow_runner is not None and shadow.model.version != model.version:
            self.shadow_runner.submit(shadow, rows, request_ids, now)
        for hook in self.on_predicted:
            hook(model.version, outputs, endpoint)
        return Predicted(model, request_ids, outputs)

    async def predict(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """/predict: rows validated against the request model; answers with ids and version."""
        predicted = await self.predict_outputs(rows, "predict")
        return {
            "model_version": predicted.model.version,
            "predictions": [
                {"request_id": rid, **output}
                for rid, output in zip(predicted.request_ids, predicted.outputs, strict=True)
            ],
        }

    def predict_table(self, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, LoadedModel]:
        """Predict a whole uploaded table; returns request_id, model_version and outputs per row, in order."""
        started = time.perf_counter()
        limit = self.settings.serving.max_batch_rows
        if len(frame) > limit:
            raise PayloadTooLarge(f"rows in {source}", len(frame), limit)
        if frame.empty:
            raise InvalidInput("rows", f"{source} holds no rows")
        model = self.model.current
        features = model.schema.check_frame(frame, source)
        # workers run with one OpenMP thread so small requests do not fight over cores; a whole table may use all
        try:
            with threadpool_limits(limits=os.cpu_count() or 1, user_api="openmp"):
                parts = [
                    model.predict_arrays(features.iloc[start : start + BATCH_CHUNK_ROWS])
                    for start in range(0, len(features), BATCH_CHUNK_ROWS)
                ]
        except ValueError as exc:
            raise InvalidInput("rows", f"the model cannot predict {source}: {exc}") from None
        predictions = np.concatenate([p for p, _ in parts])
        probabilities = None if parts[0][1] is None else np.concatenate([q for _, q in parts if q is not None])
        request_ids = self.ids.take(len(features))
        latency_ms = (time.perf_counter() - started) * 1000
        if self.log is not None:
            chunk = FrameChunk(features, model, (predictions, probabilities), request_ids, time.time(), latency_ms)
            self.log.submit(chunk)
        for hook in self.on_table:
            hook(model.version, predictions, "predict_batch")
        result = pd.DataFrame({"request_id": request_ids, "model_version": model.version, "prediction": predictions})
        if probabilities is not None:
            for index, name in enumerate(model.classes):
                result[f"probability_{name}"] = probabilities[:, index]
        return result, model

    # feedback ------------------------------------------------------------------------------------------------

    def check_label(self, label: Any, index: int) -> Any:
        schema = self.schema
        if schema.task == "regression":
            if isinstance(label, bool) or not isinstance(label, int | float) or not math.isfinite(label):
                raise InvalidInput("label", f"expected a finite number, got {label!r}", row=index)
            return float(label)
        by_text = {str(c): c for c in schema.classes}
        if str(label) not in by_text:
            raise InvalidInput("label", f"{label!r} is not one of the classes {list(by_text)}", row=index)
        return by_text[str(label)]

    async def feedback(self, items: Sequence[tuple[str, Any]]) -> dict[str, Any]:
        """Record late labels; every request id must belong to a logged prediction, else nothing is recorded."""
        labels: dict[str, Any] = {}
        for index, (request_id, label) in enumerate(items):
            labels[request_id] = self.check_label(label, index)
        doing = "no label was recorded; send them again later"
        # store calls run off the event loop: a store that does not answer must not stall this worker's predictions
        with store_errors(doing):
            unknown = set(labels) - await asyncio.to_thread(self.store.known_request_ids, labels)
            # a prediction answered a moment ago may still be queued for writing in some worker
            deadline = time.monotonic() + FEEDBACK_WAIT_SECONDS
            while unknown and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
                unknown -= await asyncio.to_thread(self.store.known_request_ids, unknown)
            if unknown:
                raise UnknownRequestIds(unknown)
            recorded = await asyncio.to_thread(self.store.record_feedback, labels)
        return {"recorded": recorded}

    # the production model ------------------------------------------------------------------------------------

    def model_info(self) -> dict[str, Any]:
        """The served version, its training metrics, when and why it was promoted, and when the next
        drift-triggered retrain may run."""
        model = self.model.current
        with store_errors("predictions are still served; ask for /model again later"):
            version = self.registry.get(model.version)
            promotion = self.store.current_promotion()
            backoff = retrain_backoff(self.settings.retrain, self.store)
            shadow = shadow_progress(self.store)
        details = version.details
        return {
            "model_version": model.version,
            "name": version.name,
            "artifact_tag": version.artifact_tag,
            "task": version.schema.task,
            "features": {"numeric": list(version.schema.numeric), "categorical": list(version.schema.categorical)},
            "classes": list(version.schema.classes),
            "metric": details.get("metric"),
            "metrics": details.get("metrics"),
            "baseline_metrics": details.get("baseline_metrics"),
            "trained_at": version.created_at,
            "promoted_at": promotion["at"] if promotion else None,
            "promotion_kind": promotion["kind"] if promotion else None,
            "promotion_reason": promotion["reason"] if promotion else None,
            # what baseline_metrics are: a dummy model's on the training holdout, or the replaced champion's on the
            # retrain holdout
            "baseline_kind": "dummy" if version.champion_version is None else "champion",
            "champion_version": version.champion_version,
            "next_drift_retrain": backoff.to_dict(),
            "shadow": shadow,
        }

    def close(self) -> None:
        self.model.stop()
        self.shadow.stop()
        self.batcher.close()
        if self.shadow_runner is not None:
            self.shadow_runner.close()
        for written in (self.log, self.shadow_log):
            if written is not None:
                written.close()
        self.store.dispose()


@contextlib.contextmanager
def store_errors(doing: str) -> Iterator[None]:
    """Database errors as StoreUnavailable (503), saying what did not happen."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        log_event(
            log, logging.WARNING, "store unavailable", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        )
        raise StoreUnavailable(doing) from exc


def unusable_values(model: LoadedModel, rows: Sequence[Mapping[str, Any]], error: ValueError) -> InvalidInput:
    """The row and field whose value the model cannot use (a scaled number that overflows), else the model's words."""
    if model.fast is not None:
        for index, row in enumerate(rows):
            for column, name in enumerate(model.schema.numeric):
                value = row.get(name)
                if value is None:
                    continue
                with np.errstate(over="ignore", invalid="ignore"):
                    scaled = (float(value) - model.fast.means[column]) / model.fast.scales[column]
                if not math.isfinite(scaled):
                    return InvalidInput(name, f"{value!r} is too large in magnitude for the model", row=index)
    return InvalidInput("rows", f"the model cannot predict these values: {error}")


def read_upload(path: Path, filename: str | None, content_type: str | None, max_bytes: int) -> tuple[pd.DataFrame, str]:
    """Read an uploaded CSV, Parquet, JSON or JSON Lines table; the format comes from the name or content type."""
    size = path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge("upload size in bytes", size, max_bytes)
    name = (filename or path.name).lower()
    kind = (content_type or "").lower()
    try:
        if name.endswith((".parquet", ".pq")) or "parquet" in kind:
            return pd.read_parquet(path), "parquet"
        if name.endswith(".jsonl") or "ndjson" in kind or "jsonl" in kind:
            return pd.read_json(path, lines=True, dtype=False), "json"
        if name.endswith(".json") or kind.endswith("/json"):
            return pd.read_json(path, orient="records", dtype=False), "json"
        return pd.read_csv(path, encoding="utf-8", low_memory=False), "csv"
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})", source="upload") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read the uploaded table: {str(exc)[:300]}", source="upload") from None


def write_result(result: pd.DataFrame, folder: Path, kind: str) -> Path:
    """The predictions as a file in the upload's format (JSON uploads get JSON back)."""
    if kind == "parquet":
        path = folder / "predictions.parquet"
        result.to_parquet(path, index=False)
    elif kind == "json":
        path = folder / "predictions.json"
        result.replace({np.nan: None}).to_json(path, orient="records")
    else:
        path = folder / "predictions.csv"
        result.to_csv(path, index=False)
    return path
