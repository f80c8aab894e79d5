"""The Open Inference Protocol's routes (/v2/...) as OpenAPI paths, for the completed document at /docs.json.

The routes are mounted Starlette routes (`inference_api.py`), which BentoML's generated document does not know. The
model name is the one configured, so the document names it, each feature an input may carry, and the outputs.
"""

from __future__ import annotations

from typing import Any

from driftline.core import FeatureSchema
from service.inference_protocol import FLOAT_TYPES, INTEGER_TYPES, PANDAS_CONTENT_TYPE, PREDICT_OUTPUT, PROBA_OUTPUT
from service.openapi import error_responses, json_object_response

TAGS = ["Open Inference Protocol"]


def _parameters(model_name: str, versioned: bool) -> list[dict[str, Any]]:
    listed = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": [model_name]}}]
    if versioned:
        listed.append(
            {
                "name": "version",
                "in": "path",
                "required": True,
                "description": "the production version; any other answers 404",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        )
    return listed


def _infer_body(schema: FeatureSchema) -> dict[str, Any]:
    outputs = [PREDICT_OUTPUT, PROBA_OUTPUT] if schema.task == "classification" else [PREDICT_OUTPUT]
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "enum": list(schema.features)},
            "shape": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": [*sorted(FLOAT_TYPES | INTEGER_TYPES), "BYTES"]},
            "parameters": {"type": "object"},
            "data": {"type": "array", "description": "one value per row (or [[v], …] for shape [n, 1])"},
        },
    }
    request = {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"content_type": {"type": "string", "enum": [PANDAS_CONTENT_TYPE]}},
            },
            "inputs": {"type": "array", "minItems": 1, "items": tensor, "description": "one input per feature"},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "enum": outputs}},
                },
            },
        },
    }
    return {"required": True, "content": {"application/json": {"schema": request}}}


def inference_paths(model_name: str, schema: FeatureSchema) -> dict[str, Any]:
    """Every /v2 path the service answers, with its parameters, body and answers."""

    def get(operation: str, description: str, *errors: int, versioned: bool | None = None) -> dict[str, Any]:
        operation_doc: dict[str, Any] = {
            "tags": TAGS,
            "operationId": operation,
            "description": description,
            "responses": {"200": json_object_response(description), **error_responses(*errors)},
        }
        if versioned is not None:
            operation_doc["parameters"] = _parameters(model_name, versioned)
        return {"get": operation_doc}

    paths = {
        "/v2": get("v2_server_metadata", "Server name, version and extensions"),
        "/v2/health/live": get("v2_live", "The server is live"),
        "/v2/health/ready": get("v2_ready", "The server is ready to predict", 503),
    }
    for versioned, prefix in ((False, "/v2/models/{name}"), (True, "/v2/models/{name}/versions/{version}")):
        suffix = "_version" if versioned else ""
        paths[prefix] = get(
            f"v2_model_metadata{suffix}",
            "One input per feature, with its datatype; the outputs",
            404,
            503,
            versioned=versioned,
        )
        paths[f"{prefix}/ready"] = get(
            f"v2_model_ready{suffix}", "The model is ready to predict", 404, 503, versioned=versioned
        )
        paths[f"{prefix}/infer"] = {
            "post": {
                "tags": TAGS,
                "operationId": f"v2_infer{suffix}",
                "description": "Predict the rows of one input tensor per feature; the response parameters hold "
                "model_version and one request_id per row, for /feedback.",
                "parameters": _parameters(model_name, versioned),
                "requestBody": _infer_body(schema),
                "responses": {
                    "200": json_object_response("The predict (and predict_proba) output tensors"),
                    **error_responses(400, 404, 413, 415, 503),
                },
            }
        }
    return paths
