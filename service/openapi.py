"""The OpenAPI document as clients see it: BentoML's generated one, completed to say what the service really does.

BentoML 1.4 describes each API from its Python signature only. It does not know that the guard in front answers
413 and 415, that /predict and /feedback also take one object instead of a list, that errors are our JSON body
(`error`, `field`, `row`, `detail` as a list), that /predict_batch answers CSV, Parquet or JSON, nor the routes
mounted beside the APIs (/model, /admin/*, and /v2/*, described in `inference_openapi.py`); and it types the upload
field as `file`, which is not a JSON Schema type. `complete_document` fixes those on our side, and `OpenAPIDocument`
serves the result at /docs.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from driftline.core import FeatureSchema
from service.admin import ProductionChange, PromoteRequest, RollbackRequest
from service.guard import ASGIApp, Message, Receive, Scope, Send

DOCUMENT_PATH = "/docs.json"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "title": "ErrorBody",
    "description": "Every error the service answers: one sentence naming what was wrong, and where.",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what was wrong"},
        "field": {"type": "string", "description": "the field or feature at fault"},
        "row": {"type": "integer", "description": "the row at fault, counted from 0"},
        "detail": {"description": "the validation errors behind the sentence"},
        "unknown_request_ids": {"type": "array", "items": {"type": "string"}},
    },
}

_STATUS_TEXT = {
    400: "The body names a field, row or value that is wrong",
    401: "Missing or wrong bearer token",
    403: "The admin API is off: no admin token is configured",
    404: "Unknown request id, model name or model version",
    409: "The promotion or rollback was refused; production is unchanged",
    413: "The body is over the configured size limit",
    415: "The content type is not accepted by this endpoint",
    500: "Unexpected error",
    503: "No usable production model, the service is still starting, or the store is unavailable (try again later)",
}


def error_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {"description": _STATUS_TEXT[status], "content": {"application/json": {"schema": ERROR_REF}}}
        for status in statuses
    }


def json_object_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }


def _one_or_many(request_body: dict[str, Any]) -> None:
    """A list body whose items may also be sent alone, as the service accepts."""
    content = request_body.get("content", {}).get("application/json")
    if not content or content.get("schema", {}).get("type") != "array":
        return
    listed = content["schema"]
    content["schema"] = {"anyOf": [listed["items"], listed]}


def _admin_paths(schemas: dict[str, Any]) -> dict[str, Any]:
    """The admin API's operations; their bodies' schemas come from the models that validate them."""
    ref: dict[type[BaseModel], dict[str, str]] = {}
    for model in (PromoteRequest, RollbackRequest, ProductionChange):
        schema = model.model_json_schema()
        schemas[schema["title"]] = schema
        ref[model] = {"$ref": f"#/components/schemas/{schema['title']}"}
    answers = {
        "200": {
            "description": "The production version after the change",
            "content": {"application/json": {"schema": ref[ProductionChange]}},
        },
        **error_responses(400, 401, 403, 404, 409, 413, 503),
    }
    secured = {"security": [{"adminBearer": []}], "tags": ["Admin"]}
    return {
        "/admin/promote": {
            "post": {
                **secured,
                "operationId": "admin_promote",
                "description": "Make a registered version production (recorded as a manual promotion).",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref[PromoteRequest]}},
                },
                "responses": answers,
            }
        },
        "/admin/rollback": {
            "post": {
                **secured,
                "operationId": "admin_rollback",
                "description": "Back to the version that was in production before the current one.",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": ref[RollbackRequest]}},
                },
                "responses": answers,
            }
        },
    }


def label_schema(schema: FeatureSchema) -> dict[str, Any] | None:
    """What /feedback takes as a label: a number for regression, else one of the classes (or its text).

    None before any model is trained (the classes are not known yet).
    """
    if schema.task == "regression":
        return {"type": "number", "description": "the true target value"}
    if not schema.classes:
        return None
    values: list[Any] = [*schema.classes, *(str(c) for c in schema.classes if not isinstance(c, str))]
    return {"enum": values, "description": "the true class"}


def complete_document(
    document: dict[str, Any],
    *,
    json_paths: tuple[str, ...],
    upload_paths: tuple[str, ...],
    label: dict[str, Any] | None = None,
    extra_paths: dict[str, Any] | None = None,
) -> None:
    """Complete BentoML's document in place (see the module docstring); `extra_paths` are mounted routes."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if label is not None and "FeedbackItem" in schemas:
        schemas["FeedbackItem"]["properties"]["label"] = label
    schemas["ErrorBody"] = ERROR_BODY
    for name in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(name, None)
    upload = schemas.get("predict_batch__Input", {}).get("properties", {}).get("file")
    if upload is not None:
        upload["type"] = "string"
    paths = document.setdefault("paths", {})
    for path, operations in paths.items():
        operation = operations.get("post")
        if operation is None or path not in json_paths + upload_paths:
            continue
        responses = operation.setdefault("responses", {})
        responses.update(error_responses(400, 404, 413, 415, 500, 503))
        if path in json_paths:
            _one_or_many(operation.get("requestBody", {}))
            operation.get("requestBody", {})["required"] = True
        else:
            tables = {"schema": {"type": "string", "format": "binary"}}
            responses["200"] = {
                "description": "The predictions as a file in the upload's format (CSV, Parquet or JSON)",
                "content": {kind: tables for kind in ("text/csv", "application/octet-stream", "application/json")},
            }
    paths["/model"] = {
        "get": {
            "operationId": "model",
            "description": "The production version this worker serves, its metrics, and when and why it was promoted.",
            "responses": {"200": json_object_response("The production model"), **error_responses(503)},
        }
    }
    paths.update(_admin_paths(schemas))
    paths.update(extra_paths or {})
    document["components"].setdefault("securitySchemes", {})["adminBearer"] = {"type": "http", "scheme": "bearer"}


class OpenAPIDocument:
    """Rewrites the body of GET /docs.json with `complete`; every other request passes straight through."""

    def __init__(self, app: ASGIApp, *, complete: Callable[[dict[str, Any]], None]) -> None:
        self.app = app
        self.complete = complete

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != DOCUMENT_PATH:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False) or start is None:
                return
            raw = b"".join(parts)
            if start["status"] == 200:
                document = json.loads(raw)
                self.complete(document)
                raw = json.dumps(document).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(raw)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": raw, "more_body": False})

        await self.app(scope, receive, buffered)
