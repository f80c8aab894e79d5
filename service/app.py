"""The BentoML service: declares the HTTP API and converts; `ServingRuntime` does the work.

Started by `driftline serve` (or `bentoml serve service.app:Driftline`). The request schema is built at
import from the production model's feature schema, so /docs.json names every feature and its type.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import tempfile
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

import bentoml
from pydantic import BeforeValidator, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from driftline.core import DriftlineError, FeatureSchema, NoProductionModel, Registry, Store, load_settings
from service.admin import AdminAPI
from service.deadline import take_over_bentoml_timeout
from service.direct import DirectPredict
from service.errors import error_response, json_error
from service.guard import RequestGuard
from service.inference_api import INFER_TEMPLATES, TEMPLATES, InferenceProtocolAPI
from service.inference_openapi import inference_paths
from service.metrics import ServiceMetrics
from service.openapi import OpenAPIDocument, complete_document, label_schema
from service.refusals import RefusalCounter, quiet_client_errors
from service.request_models import feedback_item_model, json_root_spec, row_model
from service.runtime import ServingRuntime, read_upload, write_result

SETTINGS = load_settings()


def _request_schema() -> FeatureSchema:
    """The production model's schema; before any model exists (e.g. `bentoml build`), the configured features."""
    store = Store(SETTINGS.store.url)
    try:
        return Registry.configured(store, SETTINGS.store).production().schema
    except NoProductionModel:
        listed = SETTINGS.data.features
        if listed is None:
            raise
        return FeatureSchema(tuple(listed.numeric), tuple(listed.categorical), SETTINGS.data.target, SETTINGS.data.task)
    finally:
        store.dispose()


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


SCHEMA = _request_schema()
_WORKER_RUNTIME: list[ServingRuntime] = []  # this worker's runtime, for the plain GET routes below
_WORKER_METRICS: list[ServiceMetrics] = []  # this worker's metrics, for the refusal counter in front of the app
FeatureRow = row_model(SCHEMA)
FeedbackItem = feedback_item_model(SCHEMA)
Rows = Annotated[
    list[FeatureRow],  # type: ignore[valid-type]
    BeforeValidator(_one_or_many),
    Field(
        min_length=1, max_length=SETTINGS.serving.max_rows_per_request, description="One row object, or a list of them"
    ),
]
FeedbackItems = Annotated[
    list[FeedbackItem],  # type: ignore[valid-type]
    BeforeValidator(_one_or_many),
    Field(min_length=1, max_length=100_000, description="One label object, or a list of them"),
]


@bentoml.service(
    name="driftline",
    workers=SETTINGS.serving.workers,
    # enforced by RequestDeadline in place of BentoML's own timeout middleware (see service/deadline.py)
    traffic={"timeout": SETTINGS.serving.request_timeout_seconds},
    # structured logs stay quiet by default: one access-log line per prediction request would dominate them
    logging={"access": {"enabled": SETTINGS.serving.access_log}},
    metrics={"enabled": True, "namespace": "bentoml_service"},
    # an OpenTelemetry span per single-row prediction costs a large share of the request; nothing exports them
    # unless tracing is configured, and /predict_batch, /feedback and the rest are still traced
    tracing={"excluded_urls": ["/predict$", "/v2/models/[^/]+(/versions/[^/]+)?/infer$"]},
)
class Driftline:
    """Serves the production model; every worker follows the production pointer by itself."""

    def __init__(self) -> None:
        self.runtime = ServingRuntime(SETTINGS)
        self.metrics = ServiceMetrics()
        self.runtime.on_predicted.append(self.metrics.observe)
        self.runtime.on_table.append(self.metrics.observe_table)
        self.runtime.model.on_refused.append(self.metrics.swap_refused)
        self.runtime.model.on_fetch_failed.append(self.metrics.fetch_failed)
        self.runtime.shadow.on_failed.append(self.metrics.shadow_failed)
        if self.runtime.shadow_runner is not None:
            self.runtime.shadow_runner.on_shadowed.append(self.metrics.shadowed.inc)
            self.runtime.shadow_runner.on_skipped.append(self.metrics.shadow_skipped.inc)
        if self.runtime.log is not None:
            self.runtime.log.on_drop = self.metrics.dropped
            self.runtime.log.on_depth = self.metrics.log_queue.set
        self.metrics.model_version.set(self.runtime.model.current.version)
        _WORKER_RUNTIME.append(self.runtime)
        _WORKER_METRICS.append(self.metrics)
        quiet_client_errors()  # again once the worker's logging is configured, in case that replaced the filters
        # the libraries loaded by now are millions of long-lived objects; freezing them keeps full garbage
        # collections (which otherwise stall a worker for 100+ ms under load) short
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)

    @bentoml.api(
        route="/predict",
        input_spec=json_root_spec(Rows, "PredictRequest", is_input=True),
        output_spec=json_root_spec(dict[str, Any], "PredictResponse", is_input=False),
    )
    async def predict(self, rows: Rows, /) -> dict[str, Any]:
        """Predict one row or a few; each gets a request_id to send its true label to /feedback with."""
        try:
            result = await self.runtime.predict([row.model_dump() for row in rows])  # type: ignore[attr-defined]
        except DriftlineError as exc:
            return error_response(exc)  # type: ignore[return-value]
        _report_queue()
        return result

    @bentoml.api(route="/predict_batch")
    def predict_batch(self, file: Path, context: bentoml.Context) -> Path:
        """Predict an uploaded CSV, Parquet, JSON or JSON Lines table; answers with a file in the same format."""
        try:
            frame, kind = read_upload(file, file.name, None, SETTINGS.serving.max_batch_bytes)
            result, _ = self.runtime.predict_table(frame, f"uploaded {kind}")
        except DriftlineError as exc:
            response = error_response(exc)
            # BentoML applies the context's status to whatever an API with a context parameter returns
            context.response.status_code = response.status_code
            return response  # type: ignore[return-value]
        _report_queue()
        folder = Path(tempfile.mkdtemp(prefix="driftline-batch-", dir=context.temp_dir))
        return write_result(result, folder, kind)

    @bentoml.api(
        route="/feedback",
        input_spec=json_root_spec(FeedbackItems, "FeedbackRequest", is_input=True),
        output_spec=json_root_spec(dict[str, Any], "FeedbackResponse", is_input=False),
    )
    async def feedback(self, items: FeedbackItems, /) -> dict[str, Any]:
        """Late ground truth for earlier predictions, by request_id."""
        try:
            pairs = [(item.request_id, item.label) for item in items]  # type: ignore[attr-defined]
            return await self.runtime.feedback(pairs)
        except DriftlineError as exc:
            return error_response(exc)  # type: ignore[return-value]

    @bentoml.on_shutdown
    def flush(self) -> None:
        """Write every queued prediction record before the worker exits."""
        self.runtime.close()


async def _get_model(request: Request) -> JSONResponse:
    """GET /model: the production version as this worker serves it, with its metrics and promotion."""
    if not _WORKER_RUNTIME:
        return json_error(HTTPStatus.SERVICE_UNAVAILABLE, "the service is still starting")
    try:
        info = await asyncio.to_thread(_WORKER_RUNTIME[0].model_info)
    except DriftlineError as exc:
        return error_response(exc)
    return JSONResponse(info)


def _worker_runtime() -> ServingRuntime | None:
    return _WORKER_RUNTIME[0] if _WORKER_RUNTIME else None


def _report_queue() -> None:
    """The prediction log's depth on its gauge, after each prediction request."""
    if _WORKER_RUNTIME and _WORKER_RUNTIME[0].log is not None:
        _WORKER_METRICS[0].log_queue.set(_WORKER_RUNTIME[0].log.depth)


def _count_refusal(endpoint: str, status: int) -> None:
    if _WORKER_METRICS:  # a refusal before the worker has started cannot be counted yet
        _WORKER_METRICS[0].refused(endpoint, status)


JSON_PATHS = ("/predict", "/feedback")
UPLOAD_PATHS = ("/predict_batch",)
ADMIN = AdminAPI(SETTINGS.serving.admin_token, lambda: _WORKER_RUNTIME[0].registry if _WORKER_RUNTIME else None)
INFERENCE = InferenceProtocolAPI(SETTINGS.model.name, _worker_runtime)
# valid /predict bodies are answered in front of BentoML's route (see service/direct.py)
DIRECT = DirectPredict(TypeAdapter(Rows), _worker_runtime, _report_queue)

# bentoml.service returns a Service wrapper whose type stubs do not show these methods
take_over_bentoml_timeout()
quiet_client_errors()
Driftline.mount_asgi_app(  # type: ignore[attr-defined]
    Starlette(routes=[Route("/model", _get_model, methods=["GET"]), *ADMIN.routes(), *INFERENCE.routes()]), path="/"
)
# first, so outermost: it sees the guard's refusals as well as the app's
Driftline.add_asgi_middleware(  # type: ignore[attr-defined]
    RefusalCounter,
    count=_count_refusal,
    endpoints=(*JSON_PATHS, *UPLOAD_PATHS, "/model", *(route.path for route in ADMIN.routes()), *TEMPLATES),
)
Driftline.add_asgi_middleware(  # type: ignore[attr-defined]
    RequestGuard,
    max_body_bytes=SETTINGS.serving.max_body_bytes,
    max_upload_bytes=SETTINGS.serving.max_batch_bytes,
    json_paths=(*JSON_PATHS, *INFER_TEMPLATES),
    upload_paths=UPLOAD_PATHS,
    direct={"/predict": DIRECT, **dict.fromkeys(INFER_TEMPLATES, INFERENCE.infer_direct)},
)
Driftline.add_asgi_middleware(  # type: ignore[attr-defined]
    OpenAPIDocument,
    complete=functools.partial(
        complete_document,
        json_paths=JSON_PATHS,
        upload_paths=UPLOAD_PATHS,
        label=label_schema(SCHEMA),
        extra_paths=inference_paths(SETTINGS.model.name, SCHEMA),
    ),
)

__all__ = ["Driftline"]
