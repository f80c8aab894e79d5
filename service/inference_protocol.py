"""The Open Inference Protocol (KServe v2 REST) in Driftline's terms: input tensors in, feature rows out, and back.

Clients built for KServe, MLServer or Triton send one input tensor per feature, as MLServer's pandas codec does
(`"parameters": {"content_type": "pd"}`: each input a column, BYTES for text), of shape [n] or [n, 1]. This module
turns such a request into the rows /predict takes, checked as strictly as /predict checks them (finite numbers
within MAX_MAGNITUDE, strings of at most MAX_CATEGORY_LENGTH characters), and a prediction back into the protocol's
output tensors. A float NaN means a missing value here, as null does: numpy and pandas clients have no other way to
leave a number out of a float tensor. Plain functions, no HTTP: `inference_api.py` serves them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline.core import MAX_CATEGORY_LENGTH, MAX_MAGNITUDE, FeatureSchema, InvalidInput, LoadedModel
from service.guard import shorten
from service.runtime import Predicted

PREDICT_OUTPUT = "predict"
PROBA_OUTPUT = "predict_proba"
PANDAS_CONTENT_TYPE = "pd"
FLOAT_TYPES = frozenset({"FP16", "FP32", "FP64"})
INTEGER_TYPES = frozenset({f"{sign}INT{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)})
REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})


@dataclass(frozen=True)
class InferRequest:
    """A decoded inference request: the feature rows, the client's request id, the outputs to answer with."""

    rows: list[dict[str, Any]]
    request_id: str | None
    outputs: tuple[str, ...]


def output_names(model: LoadedModel) -> tuple[str, ...]:
    return (PREDICT_OUTPUT, PROBA_OUTPUT) if model.is_classifier else (PREDICT_OUTPUT,)


def predict_datatype(model: LoadedModel) -> str:
    """The tensor type of the `predict` output: numbers for regressors, else what the classes are."""
    if not model.is_classifier:
        return "FP64"
    classes = model.classes
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes):
        return "FP64"
    return "BYTES"


def parse_infer_request(body: Any, model: LoadedModel) -> InferRequest:
    """The rows of an inference request; `InvalidInput` names the input (and row) at fault."""
    if not isinstance(body, dict):
        raise InvalidInput("body", f"expected an inference request object, got {type(body).__name__}")
    unknown = sorted(set(body) - REQUEST_KEYS)
    if unknown:
        raise InvalidInput(unknown[0], f"unknown field; an inference request has {', '.join(sorted(REQUEST_KEYS))}")
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("id", f"expected a string, got {type(request_id).__name__}")
    _check_parameters(body.get("parameters"))
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("inputs", "expected a list of input tensors, one per feature")
    columns = _columns(inputs, model.schema)
    rows = [dict(zip(model.schema.features, values, strict=True)) for values in zip(*columns, strict=True)]
    return InferRequest(rows, request_id, _requested_outputs(body.get("outputs"), model))


def _check_parameters(parameters: Any) -> None:
    if parameters is None:
        return
    if not isinstance(parameters, dict):
        raise InvalidInput("parameters", f"expected an object, got {type(parameters).__name__}")
    content_type = parameters.get("content_type", PANDAS_CONTENT_TYPE)
    if content_type != PANDAS_CONTENT_TYPE:
        raise InvalidInput(
            "parameters.content_type",
            f"{shorten(str(content_type))!r} is not decoded here; send one input per feature with content_type "
            f"{PANDAS_CONTENT_TYPE!r}, or leave it out",
        )


def _columns(inputs: list[Any], schema: FeatureSchema) -> list[list[Any]]:
    """One checked column per feature, in the schema's order, all of one length."""
    by_name: dict[str, list[Any]] = {}
    rows: int | None = None
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise InvalidInput(f"inputs[{position}]", "expected an input tensor object with a name")
        name: str = tensor["name"]
        if name not in schema.features:
            raise InvalidInput(name, f"unknown input; send one input per feature: {', '.join(schema.features)}")
        if name in by_name:
            raise InvalidInput(name, "input sent twice")
        values = _tensor_values(tensor, name)
        if rows is not None and len(values) != rows:
            raise InvalidInput(name, f"input holds {len(values)} rows where the first input holds {rows}")
        rows = len(values)
        if name in schema.numeric:
            by_name[name] = _numbers(values, name, tensor.get("datatype"))
        else:
            by_name[name] = _strings(values, name, tensor.get("datatype"))
    missing = [name for name in schema.features if name not in by_name]
    if missing:
        raise InvalidInput(missing[0], f"missing input (missing: {', '.join(missing)}); send one input per feature")
    if not rows:
        raise InvalidInput("inputs", "the input tensors hold no rows")
    return [by_name[name] for name in schema.features]


def _tensor_values(tensor: Mapping[str, Any], name: str) -> list[Any]:
    """The values of a [n] or [n, 1] tensor, one per row, whether its data is flat or nested."""
    parameters = tensor.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInput(name, f"parameters must be an object, got {type(parameters).__name__}")
    if "binary_data_size" in parameters:
        raise InvalidInput(name, "binary tensor data is not accepted; send the data as JSON (binary_data=False)")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise InvalidInput(name, f"shape must be [n] or [n, 1] (one value per row), got {shorten(str(shape))}")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise InvalidInput(name, f"data must be a list of values, got {type(data).__name__}")
    if any(isinstance(value, list) for value in data):
        if not all(isinstance(value, list) and len(value) == 1 for value in data):
            raise InvalidInput(name, "nested data must hold one value per row, as [[v], [v], …]")
        data = [value[0] for value in data]
    if len(data) != shape[0]:
        raise InvalidInput(name, f"data holds {len(data)} values where shape {shape} says {shape[0]}")
    return data


def _numbers(values: Sequence[Any], name: str, datatype: Any) -> list[float | None]:
    if datatype not in FLOAT_TYPES and datatype not in INTEGER_TYPES:
        raise InvalidInput(
            name, f"datatype {shorten(str(datatype))!r} does not fit a numeric feature; send FP64, FP32 or INT64"
        )
    integers = datatype in INTEGER_TYPES
    out: list[float | None] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(name, f"expected a number or null, got {type(value).__name__}", row=row)
        if integers and not isinstance(value, int):
            raise InvalidInput(name, f"expected an integer for datatype {datatype}, got a fraction", row=row)
        number = float(value)
        if math.isnan(number):
            out.append(None)
            continue
        if math.isinf(number):
            raise InvalidInput(name, "expected a finite number, got infinity", row=row)
        if abs(number) > MAX_MAGNITUDE:
            raise InvalidInput(name, f"numbers must be within ±{MAX_MAGNITUDE:g}", row=row)
        out.append(number)
    return out


def _strings(values: Sequence[Any], name: str, datatype: Any) -> list[str | None]:
    if datatype != "BYTES":
        raise InvalidInput(
            name, f"datatype {shorten(str(datatype))!r} does not fit a categorical feature; send BYTES (strings)"
        )
    for row, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(name, f"expected a string or null, got {type(value).__name__}", row=row)
        if value is not None and len(value) > MAX_CATEGORY_LENGTH:
            raise InvalidInput(name, f"values must be at most {MAX_CATEGORY_LENGTH} characters", row=row)
    return list(values)


def _requested_outputs(requested: Any, model: LoadedModel) -> tuple[str, ...]:
    available = output_names(model)
    if requested is None:
        return available
    if not isinstance(requested, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in requested
    ):
        raise InvalidInput("outputs", "expected a list of objects with an output name")
    names = tuple(dict.fromkeys(item["name"] for item in requested))
    for name in names:
        if name not in available:
            raise InvalidInput("outputs", f"unknown output {shorten(name)!r}; this model has {', '.join(available)}")
    return names or available


def infer_response(predicted: Predicted, model_name: str, request: InferRequest) -> dict[str, Any]:
    """The protocol's response: the requested output tensors, the version, and one request id per row.

    `model_version` is the protocol's (a string); the response parameters hold it again as the integer /predict
    answers with, and the request ids /feedback takes.
    """
    model = predicted.model
    rows = len(predicted.outputs)
    outputs: list[dict[str, Any]] = []
    for name in request.outputs:
        if name == PREDICT_OUTPUT:
            datatype = predict_datatype(model)
            values = [output["prediction"] for output in predicted.outputs]
            data = [str(v) for v in values] if datatype == "BYTES" else values
            outputs.append({"name": name, "datatype": datatype, "shape": [rows], "data": data})
        else:
            flat = [p for output in predicted.outputs for p in output["probabilities"].values()]
            outputs.append({"name": name, "datatype": "FP64", "shape": [rows, len(model.classes)], "data": flat})
    body: dict[str, Any] = {
        "model_name": model_name,
        "model_version": str(model.version),
        "outputs": outputs,
        "parameters": {"model_version": model.version, "request_ids": predicted.request_ids},
    }
    if request.request_id is not None:
        body["id"] = request.request_id
    return body


def model_metadata(model_name: str, model: LoadedModel) -> dict[str, Any]:
    """The protocol's model metadata: one input per feature with its datatype, and the outputs with their shapes."""
    schema = model.schema
    inputs = [{"name": name, "datatype": "FP64", "shape": [-1]} for name in schema.numeric] + [
        {"name": name, "datatype": "BYTES", "shape": [-1], "parameters": {"content_type": "str"}}
        for name in schema.categorical
    ]
    outputs: list[dict[str, Any]] = [{"name": PREDICT_OUTPUT, "datatype": predict_datatype(model), "shape": [-1]}]
    if model.is_classifier:
        outputs.append({"name": PROBA_OUTPUT, "datatype": "FP64", "shape": [-1, len(model.classes)]})
    return {
        "name": model_name,
        "versions": [str(model.version)],
        "platform": "scikit-learn",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"content_type": PANDAS_CONTENT_TYPE},
    }
