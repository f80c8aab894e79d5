"""The Open Inference Protocol's REST endpoints (`/v2/...`), so KServe, MLServer and Triton clients work unchanged.

Served as plain Starlette routes mounted beside /model, not as BentoML APIs: BentoML routes cannot carry path
parameters (the model name and version are in the path), and its validation would answer bad tensors in its own
error shape instead of the protocol's `{"error": …}`. The middleware in front still applies: `RequestGuard` caps
and checks the infer bodies (listed as templates in its JSON paths), `RefusalCounter` counts refusals under the
templates in `TEMPLATES`. Predictions go through the worker's `ServingRuntime`, so they share /predict's micro-batches,
prediction log and metrics. Only the configured model name is served, at the production version this worker holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pydantic_core
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from driftline.core import DriftlineError, LoadedModel
from service.direct import QuickJSON
from service.errors import error_response, json_error
from service.guard import MAX_JSON_DEPTH, nesting_exceeds, shorten
from service.inference_protocol import infer_response, model_metadata, parse_infer_request
from service.runtime import ServingRuntime

INFER_TEMPLATES = ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")
TEMPLATES = (
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    *INFER_TEMPLATES,
)
ENDPOINT_LABEL = "v2_infer"  # driftline_request_rows' endpoint label for protocol inference


def _server_version() -> str:
    try:
        return version("driftline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


class InferenceProtocolAPI:
    """Health, server and model metadata, model readiness and inference, for the model named `model_name`."""

    def __init__(self, model_name: str, runtime: Callable[[], ServingRuntime | None]) -> None:
        self.model_name = model_name
        self._runtime = runtime
        self._server = {"name": "driftline", "version": _server_version(), "extensions": []}

    def routes(self) -> list[Route]:
        model, versioned = "/v2/models/{name}", "/v2/models/{name}/versions/{version}"
        return [
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
            *(Route(path, self.metadata, methods=["GET"]) for path in (model, versioned)),
            *(Route(f"{path}/ready", self.model_ready, methods=["GET"]) for path in (model, versioned)),
            *(Route(path, self.infer, methods=["POST"]) for path in INFER_TEMPLATES),
        ]

    async def server_metadata(self, request: Request) -> JSONResponse:
        return JSONResponse(self._server)

    async def live(self, request: Request) -> JSONResponse:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> JSONResponse:
        if self._runtime() is None:
            return JSONResponse({"ready": False}, status_code=HTTPStatus.SERVICE_UNAVAILABLE)
        return JSONResponse({"ready": True})

    async def metadata(self, request: Request) -> JSONResponse:
        served = self._served(request.path_params["name"], request.path_params.get("version"))
        if isinstance(served, JSONResponse):
            return served
        return JSONResponse(model_metadata(self.model_name, served[1]))

    async def model_ready(self, request: Request) -> JSONResponse:
        served = self._served(request.path_params["name"], request.path_params.get("version"))
        if isinstance(served, JSONResponse):
            return served
        return JSONResponse({"name": self.model_name, "ready": True})

    async def infer(self, request: Request) -> JSONResponse:
        """Predict the rows of an inference request, exactly as /predict would, and answer in the protocol."""
        params = request.path_params
        return await self._infer(params["name"], params.get("version"), json.loads, await request.body())

    async def infer_direct(self, path: str, body: bytes) -> JSONResponse | None:
        """`infer` for the request guard, which hands over the path and the body it has read; None, when the body
        is not JSON or nests too deep, leaves the guard to refuse it as it refuses any body."""
        parts = path.split("/")  # "", "v2", "models", name, ["versions", version,] "infer"
        name, version = parts[3], (parts[5] if len(parts) == 7 else None)
        try:
            value = pydantic_core.from_json(body)
        except ValueError:
            return None
        if nesting_exceeds(value, MAX_JSON_DEPTH):
            return None
        return await self._infer(name, version, lambda _: value, body)

    async def _infer(self, name: str, version: str | None, decode: Callable[[bytes], Any], body: bytes) -> JSONResponse:
        served = self._served(name, version)
        if isinstance(served, JSONResponse):
            return served
        runtime, model = served
        try:
            request = decode(body)
        except ValueError as exc:  # the guard refuses these first; this is for an app run without it
            return json_error(HTTPStatus.BAD_REQUEST, f"malformed JSON: {str(exc)[:200]}")
        try:
            decoded = parse_infer_request(request, model)
            predicted = await runtime.predict_outputs(decoded.rows, ENDPOINT_LABEL)
        except DriftlineError as exc:
            return error_response(exc)
        return QuickJSON(infer_response(predicted, self.model_name, decoded))

    def _served(self, name: str, wanted: str | None) -> tuple[ServingRuntime, LoadedModel] | JSONResponse:
        """This worker's runtime and model, when the path names the model (and its version, if any); else the
        error to answer with."""
        runtime = self._runtime()
        if runtime is None:
            return json_error(HTTPStatus.SERVICE_UNAVAILABLE, "the service is still starting")
        model = runtime.model.current
        if name != self.model_name:
            return json_error(
                HTTPStatus.NOT_FOUND, f"unknown model {shorten(name)!r}; this service serves {self.model_name!r}"
            )
        if wanted is not None and wanted != str(model.version):
            return json_error(
                HTTPStatus.NOT_FOUND,
                f"model {self.model_name!r} version {shorten(wanted)!r} is not served; "
                f"version {model.version} is in production",
            )
        return runtime, model
