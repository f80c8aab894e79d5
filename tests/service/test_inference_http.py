"""Clients nobody here wrote, against a real `driftline serve`: tritonclient over the Open Inference Protocol (/v2)
and BentoML's own SyncHTTPClient over /predict, /predict_batch and /feedback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import bentoml
import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.factories import CATEGORICAL, NUMERIC, feature_row, make_loans
from tests.processes import Served, wait_for
from tests.service.conftest import settled_count
from tests.store_reads import recent_predictions

pytestmark = pytest.mark.integration

MODEL = "loans"  # model.name in the test config (tests/factories.py)


@pytest.fixture(scope="module")
def triton_client(served: Served) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=served.url.removeprefix("http://"), network_timeout=30.0)


def triton_inputs(frame: pd.DataFrame) -> list[triton.InferInput]:
    """One input per feature, the way a Triton user sends a DataFrame's columns as JSON tensors."""
    inputs = []
    for name in NUMERIC:
        tensor = triton.InferInput(name, [len(frame)], "FP64")
        tensor.set_data_from_numpy(frame[name].to_numpy(dtype="float64"), binary_data=False)
        inputs.append(tensor)
    for name in CATEGORICAL:
        tensor = triton.InferInput(name, [len(frame)], "BYTES")
        tensor.set_data_from_numpy(frame[name].to_numpy(dtype=object), binary_data=False)
        inputs.append(tensor)
    return inputs


def json_outputs(*names: str) -> list[triton.InferRequestedOutput]:
    return [triton.InferRequestedOutput(name, binary_data=False) for name in names]


def logged_ids(served: Served, ids: list[str], seconds: float = 10) -> set[str]:
    """The ids of `ids` in the prediction log, once all of them are there."""
    known = served.registry.store.known_request_ids
    found: set[str] = wait_for(
        "the rows in the prediction log", lambda: len(known(ids)) == len(ids) and known(ids), seconds
    )
    return found


def test_tritonclient_sees_a_live_and_ready_server_and_model(
    served: Served, triton_client: triton.InferenceServerClient
) -> None:
    """Server live, server ready, model ready (also at its version); an unknown model or version is not ready."""
    answers = [
        triton_client.is_server_live(),
        triton_client.is_server_ready(),
        triton_client.is_model_ready(MODEL),
        triton_client.is_model_ready(MODEL, model_version="1"),
        triton_client.is_model_ready("other-model"),
        triton_client.is_model_ready(MODEL, model_version="99"),
    ]
    assert [True, True, True, True, False, False] == answers


def test_tritonclient_reads_server_and_model_metadata(triton_client: triton.InferenceServerClient) -> None:
    """The model's metadata names one input per feature with its datatype, and the two outputs."""
    server = triton_client.get_server_metadata()
    model = triton_client.get_model_metadata(MODEL, model_version="1")
    summary = {
        "server": server["name"],
        "inputs": [(i["name"], i["datatype"]) for i in model["inputs"]],
        "outputs": [(o["name"], o["shape"]) for o in model["outputs"]],
    }
    expected = {
        "server": "driftline",
        "inputs": [(n, "FP64") for n in NUMERIC] + [(n, "BYTES") for n in CATEGORICAL],
        "outputs": [("predict", [-1]), ("predict_proba", [-1, 2])],
    }
    assert expected == summary


def test_tritonclient_infer_answers_what_predict_answers(
    served: Served, triton_client: triton.InferenceServerClient
) -> None:
    """The same rows get the same classes and probabilities over /v2 infer as over /predict."""
    frame = make_loans(6, seed=21)
    result = triton_client.infer(MODEL, triton_inputs(frame), outputs=json_outputs("predict", "predict_proba"))
    predict = httpx.post(f"{served.url}/predict", json=[feature_row(frame, i) for i in range(6)]).json()
    expected_classes = [p["prediction"] for p in predict["predictions"]]
    expected_proba = np.array([list(p["probabilities"].values()) for p in predict["predictions"]])
    assert expected_classes == result.as_numpy("predict").tolist()
    np.testing.assert_allclose(expected_proba, result.as_numpy("predict_proba"), atol=1e-6)


def test_tritonclient_without_requested_outputs_gets_every_output_as_json(
    triton_client: triton.InferenceServerClient,
) -> None:
    """tritonclient asks for binary outputs when none are named; the JSON answer still decodes."""
    result = triton_client.infer(MODEL, triton_inputs(make_loans(3, seed=22)), model_version="1")
    assert [(3,), (3, 2)] == [result.as_numpy("predict").shape, result.as_numpy("predict_proba").shape]


def test_v2_rows_are_logged_and_take_feedback_by_their_request_ids(
    served: Served, triton_client: triton.InferenceServerClient
) -> None:
    """Every row answered over /v2 is in the prediction log, and /feedback (BentoML's client) labels it."""
    frame = make_loans(4, seed=23)
    response = triton_client.infer(MODEL, triton_inputs(frame), outputs=json_outputs("predict")).get_response()
    ids = response["parameters"]["request_ids"]
    assert set(ids) == logged_ids(served, ids)
    with bentoml.SyncHTTPClient(served.url) as client:
        recorded = client.feedback([{"request_id": rid, "label": 1} for rid in ids])
    assert {"recorded": 4} == recorded


def test_a_logged_v2_row_holds_the_features_that_were_sent(
    served: Served, triton_client: triton.InferenceServerClient
) -> None:
    """The prediction log keeps the row as /predict would have logged it, features and output."""
    frame = make_loans(1, seed=24)
    response = triton_client.infer(MODEL, triton_inputs(frame), outputs=json_outputs("predict")).get_response()
    [request_id] = response["parameters"]["request_ids"]
    logged_ids(served, [request_id])
    [record] = [r for r in recent_predictions(served.registry.store, 50) if r["request_id"] == request_id]
    assert feature_row(frame, 0) == record["features"]


def test_tritonclient_gets_the_protocol_error_naming_the_input_and_row(
    served: Served, triton_client: triton.InferenceServerClient
) -> None:
    """A bad value is a 400 whose error names the input and the row; nothing is logged for it."""
    frame = make_loans(3, seed=25)
    inputs = triton_inputs(frame)
    age = triton.InferInput("age", [3], "FP64")
    age.set_data_from_numpy(np.array([30.0, np.inf, 40.0]), binary_data=False)
    inputs[NUMERIC.index("age")] = age
    before = settled_count(served)
    with pytest.raises(InferenceServerException) as refused:
        triton_client.infer(MODEL, inputs, outputs=json_outputs("predict"))
    assert ("400", "row 1, field 'age': expected a finite number, got infinity") == (
        refused.value.status(),
        refused.value.message(),
    )
    assert before == settled_count(served)


def test_a_version_that_is_not_served_is_a_protocol_404(triton_client: triton.InferenceServerClient) -> None:
    """Inference pinned to another version is refused in the protocol's error shape."""
    with pytest.raises(InferenceServerException) as refused:
        triton_client.infer(MODEL, triton_inputs(make_loans(1, seed=26)), model_version="7")
    assert ("404", "model 'loans' version '7' is not served; version 1 is in production") == (
        refused.value.status(),
        refused.value.message(),
    )


def v2_infer(served: Served, name: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{served.url}/v2/models/{name}/infer", timeout=30, **kwargs)


def test_refusals_are_counted_under_the_endpoint_template(served: Served) -> None:
    """An unknown model name is a 404 counted under /v2/models/{name}/infer, never under the path sent."""

    def refused() -> float:
        metrics = httpx.get(f"{served.url}/metrics").text
        pattern = r'driftline_rejected_requests_total\{endpoint="/v2/models/\{name\}/infer",status="404"\} (\S+)'
        found = re.search(pattern, metrics)
        return float(found.group(1)) if found else 0.0

    before = refused()
    answer = v2_infer(served, "no-such-model-a1b2", json={"inputs": []})
    ours = [line for line in httpx.get(f"{served.url}/metrics").text.splitlines() if line.startswith("driftline_")]
    assert (404, before + 1, []) == (answer.status_code, refused(), [line for line in ours if "a1b2" in line])


def test_infer_bodies_get_the_same_limits_as_predict(served: Served) -> None:
    """Over the body limit is a 413, a form body a 415, malformed JSON a 400, as on /predict."""
    answers = [
        v2_infer(served, MODEL, content=b"{" + b" " * 9_000_000 + b"}", headers={"content-type": "application/json"}),
        v2_infer(served, MODEL, data={"inputs": "x"}),
        v2_infer(served, MODEL, content=b'{"inputs": [', headers={"content-type": "application/json"}),
    ]
    assert [413, 415, 400] == [answer.status_code for answer in answers]


def test_v2_predictions_count_in_the_prediction_metrics(served: Served) -> None:
    """Rows answered over /v2 are counted in driftline_request_rows under their own endpoint label."""
    body = {
        "inputs": [
            *({"name": n, "datatype": "FP64", "shape": [1], "data": [1.0]} for n in NUMERIC),
            *({"name": n, "datatype": "BYTES", "shape": [1], "data": ["car"]} for n in CATEGORICAL),
        ]
    }
    assert 200 == v2_infer(served, MODEL, json=body).status_code
    assert 'driftline_request_rows_count{endpoint="v2_infer"}' in httpx.get(f"{served.url}/metrics").text


def test_bentoml_client_predicts_rows_and_tables(served: Served, tmp_path: Path) -> None:
    """BentoML's SyncHTTPClient calls /predict with rows and /predict_batch with a CSV, as a BentoML user would."""
    frame = make_loans(5, seed=27)
    table = tmp_path / "rows.csv"
    frame[NUMERIC + CATEGORICAL].to_csv(table, index=False)
    with bentoml.SyncHTTPClient(served.url) as client:
        rows = client.predict([feature_row(frame, i) for i in range(5)])
        uploaded = pd.read_csv(client.predict_batch(file=table))
    assert [p["prediction"] for p in rows["predictions"]] == uploaded["prediction"].tolist()
