"""Open Inference Protocol requests turned into feature rows, and predictions into output tensors."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from driftline.core import InvalidInput, LoadedModel, Registry
from retrain import TrainingOutcome
from service.inference_protocol import (
    InferRequest,
    infer_response,
    model_metadata,
    parse_infer_request,
    predict_datatype,
)
from service.runtime import Predicted
from tests.factories import CATEGORICAL, NUMERIC, feature_row


@pytest.fixture
def model(trained: TrainingOutcome, registry: Registry) -> LoadedModel:
    return registry.load(trained.version.version)


def tensors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One input per feature, as MLServer's pandas codec and tritonclient send them."""
    numeric = [
        {"name": name, "datatype": "FP64", "shape": [len(rows)], "data": [row[name] for row in rows]}
        for name in NUMERIC
    ]
    categorical = [
        {"name": name, "datatype": "BYTES", "shape": [len(rows)], "data": [row[name] for row in rows]}
        for name in CATEGORICAL
    ]
    return numeric + categorical


def request_for(rows: list[dict[str, Any]], **replaced: dict[str, Any]) -> dict[str, Any]:
    """An inference request for `rows`, with the inputs named in `replaced` updated by the given fields."""
    inputs = [{**tensor, **replaced.get(tensor["name"], {})} for tensor in tensors(rows)]
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def test_one_input_per_feature_becomes_the_rows_predict_takes(model: LoadedModel, loans: pd.DataFrame) -> None:
    """Each input is a column; row i of the request is row i of every input."""
    rows = [feature_row(loans, i) for i in range(3)]
    assert rows == parse_infer_request(request_for(rows), model).rows


def test_shape_n_by_1_with_nested_data_reads_like_shape_n(model: LoadedModel, loans: pd.DataFrame) -> None:
    """[[v], [v]] with shape [n, 1] is the same column as [v, v] with shape [n]."""
    rows = [feature_row(loans, i) for i in range(2)]
    nested = {"shape": [2, 1], "data": [[rows[0]["income"]], [rows[1]["income"]]]}
    assert rows == parse_infer_request(request_for(rows, income=nested), model).rows


def test_nan_and_null_are_missing_values(model: LoadedModel, loans: pd.DataFrame) -> None:
    """A float tensor leaves a number out with NaN, any tensor with null; both reach the model as missing."""
    rows = [feature_row(loans, i) for i in range(2)]
    body = request_for(rows, debt_ratio={"data": [math.nan, None]}, region={"data": [None, "north"]})
    parsed = parse_infer_request(body, model).rows
    missing = [parsed[0]["debt_ratio"], parsed[1]["debt_ratio"], *(row["region"] for row in parsed)]
    assert [None, None, None, "north"] == missing


def test_integer_tensors_feed_numeric_features(model: LoadedModel, loans: pd.DataFrame) -> None:
    """An INT64 input is read as numbers, as /predict reads JSON integers."""
    rows = [{**feature_row(loans, 0), "age": 41}]
    parsed = parse_infer_request(request_for(rows, age={"datatype": "INT64"}), model).rows
    assert [41.0] == [row["age"] for row in parsed]


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown input", {"zip": {}}, "unknown input"),
    ("text in a number", {"income": {"data": ["lots", 1.0]}}, "row 0, field 'income': expected a number or null"),
    ("bool in a number", {"age": {"data": [30.0, True]}}, "row 1, field 'age': expected a number or null, got bool"),
    ("infinity", {"income": {"data": [1.0, math.inf]}}, "row 1, field 'income': expected a finite number"),
    ("huge number", {"income": {"data": [1e19, 1.0]}}, "row 0, field 'income': numbers must be within"),
    ("fraction in INT64", {"age": {"datatype": "INT64", "data": [30, 30.5]}}, "row 1, field 'age': expected an int"),
    ("BYTES for a number", {"income": {"datatype": "BYTES"}}, "field 'income': datatype 'BYTES' does not fit"),
    ("number for a category", {"region": {"datatype": "FP64"}}, "field 'region': datatype 'FP64' does not fit"),
    ("number in BYTES", {"region": {"data": ["north", 3]}}, "row 1, field 'region': expected a string or null"),
    ("long category", {"region": {"data": ["x" * 201, "north"]}}, "row 0, field 'region': values must be at most 200"),
    ("shape [n, 2]", {"income": {"shape": [1, 2]}}, "field 'income': shape must be [n] or [n, 1]"),
    ("shape against data", {"income": {"shape": [3]}}, "field 'income': data holds 2 values where shape [3] says 3"),
    ("rows differ", {"age": {"shape": [1], "data": [30.0]}}, "field 'age': input holds 1 rows where the first"),
    ("binary data", {"income": {"parameters": {"binary_data_size": 16}}}, "field 'income': binary tensor data"),
]


@pytest.mark.parametrize(("case", "replaced", "message"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_inputs_are_refused_naming_the_input_and_row(
    model: LoadedModel, loans: pd.DataFrame, case: str, replaced: dict[str, Any], message: str
) -> None:
    """Each bad tensor is refused with the input (and, for a bad value, the row) at fault."""
    body = request_for([feature_row(loans, 0), feature_row(loans, 1)], **replaced)
    if "zip" in replaced:
        body["inputs"].append({"name": "zip", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]})
    with pytest.raises(InvalidInput) as refused:
        parse_infer_request(body, model)
    assert message in str(refused.value)


def test_a_missing_or_repeated_input_is_refused(model: LoadedModel, loans: pd.DataFrame) -> None:
    """Every feature needs exactly one input."""
    body = request_for([feature_row(loans, 0)])
    missing = {**body, "inputs": body["inputs"][1:]}
    repeated = {**body, "inputs": [*body["inputs"], body["inputs"][0]]}
    messages = []
    for bad in (missing, repeated):
        with pytest.raises(InvalidInput) as refused:
            parse_infer_request(bad, model)
        messages.append(str(refused.value))
    assert ["field 'income': missing input (missing: income)", "field 'income': input sent twice"] == [
        m.split("; send")[0] for m in messages
    ]


REQUEST_LEVEL: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], "expected an inference request object"),
    ("unknown field", {"inputs": [], "model": "x"}, "field 'model': unknown field"),
    ("no inputs", {"inputs": []}, "field 'inputs': expected a list of input tensors"),
    ("numpy codec", {"parameters": {"content_type": "np"}, "inputs": []}, "'np' is not decoded here"),
    ("id not text", {"id": 7, "inputs": []}, "field 'id': expected a string"),
    ("unknown output", {"outputs": [{"name": "scores"}]}, "unknown output 'scores'"),
]


@pytest.mark.parametrize(("case", "body", "message"), REQUEST_LEVEL, ids=[c[0] for c in REQUEST_LEVEL])
def test_bad_requests_are_refused_naming_the_field(
    model: LoadedModel, loans: pd.DataFrame, case: str, body: Any, message: str
) -> None:
    """A request that is not an inference request of one input per feature is refused with its fault."""
    if isinstance(body, dict) and "outputs" in body:
        body = {**request_for([feature_row(loans, 0)]), **body}
    with pytest.raises(InvalidInput) as refused:
        parse_infer_request(body, model)
    assert message in str(refused.value)


def predicted_for(model: LoadedModel, rows: list[dict[str, Any]]) -> Predicted:
    return Predicted(model, [f"id-{i}" for i in range(len(rows))], model.predict_rows(rows))


def test_the_response_holds_both_outputs_with_their_shapes(model: LoadedModel, loans: pd.DataFrame) -> None:
    """predict has one class per row, predict_proba one row of class probabilities per row."""
    rows = [feature_row(loans, i) for i in range(3)]
    predicted = predicted_for(model, rows)
    outputs = infer_response(predicted, "loans", InferRequest(rows, None, ("predict", "predict_proba")))["outputs"]
    expected = [
        {"name": "predict", "datatype": "INT64", "shape": [3], "data": [o["prediction"] for o in predicted.outputs]},
        {
            "name": "predict_proba",
            "datatype": "FP64",
            "shape": [3, 2],
            "data": [p for o in predicted.outputs for p in o["probabilities"].values()],
        },
    ]
    assert expected == outputs


def test_the_response_parameters_carry_the_version_and_a_request_id_per_row(
    model: LoadedModel, loans: pd.DataFrame
) -> None:
    """/feedback takes the ids; the client's own request id comes back as the protocol asks."""
    rows = [feature_row(loans, i) for i in range(2)]
    body = infer_response(predicted_for(model, rows), "loans", InferRequest(rows, "client-7", ("predict",)))
    expected = {
        "model_name": "loans",
        "model_version": "1",
        "id": "client-7",
        "parameters": {"model_version": 1, "request_ids": ["id-0", "id-1"]},
    }
    assert expected == {key: value for key, value in body.items() if key != "outputs"}


def test_only_the_requested_outputs_are_answered(model: LoadedModel, loans: pd.DataFrame) -> None:
    """A request naming predict_proba gets that output alone."""
    body = {**request_for([feature_row(loans, 0)]), "outputs": [{"name": "predict_proba"}]}
    assert ("predict_proba",) == parse_infer_request(body, model).outputs


def test_model_metadata_names_every_feature_with_its_datatype(model: LoadedModel) -> None:
    """Numeric features are FP64 inputs, categorical ones BYTES; the outputs carry their shapes."""
    metadata = model_metadata("loans", model)
    summary = {
        "inputs": [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]],
        "outputs": [(o["name"], o["datatype"], o["shape"]) for o in metadata["outputs"]],
        "versions": metadata["versions"],
    }
    expected = {
        "inputs": [(n, "FP64", [-1]) for n in NUMERIC] + [(n, "BYTES", [-1]) for n in CATEGORICAL],
        "outputs": [("predict", "INT64", [-1]), ("predict_proba", "FP64", [-1, 2])],
        "versions": ["1"],
    }
    assert expected == summary


def test_text_classes_are_answered_as_bytes(model: LoadedModel) -> None:
    """A classifier of text labels answers predict as a BYTES tensor."""

    class TextLabels:
        classes_ = ["no", "yes"]

    relabelled = LoadedModel(model.version, TextLabels(), model.schema)
    assert "BYTES" == predict_datatype(relabelled)
