"""The /v2 routes on their own, over a real runtime and Starlette's test client (no server)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from driftline.core import Settings
from retrain import TrainingOutcome
from service.inference_api import InferenceProtocolAPI
from service.runtime import ServingRuntime
from tests.factories import CATEGORICAL, NUMERIC, feature_row


@pytest.fixture
def client(trained: TrainingOutcome, settings: Settings) -> Iterator[TestClient]:
    runtime = ServingRuntime(settings, watch=False)
    api = InferenceProtocolAPI(settings.model.name, lambda: runtime)
    with TestClient(Starlette(routes=api.routes())) as test_client:
        yield test_client
    runtime.close()


def test_an_unknown_model_name_is_a_404_in_the_protocol_error_shape(client: TestClient) -> None:
    """The error body is the protocol's single `error` string."""
    answer = client.get("/v2/models/other/ready")
    assert (404, {"error": "unknown model 'other'; this service serves 'loans'"}) == (answer.status_code, answer.json())


def test_a_version_other_than_production_is_a_404(client: TestClient) -> None:
    """Only the production version may be named in the path."""
    assert [200, 404] == [client.get(f"/v2/models/loans/versions/{v}").status_code for v in ("1", "2")]


def test_infer_answers_one_request_id_per_row(client: TestClient, loans: pd.DataFrame) -> None:
    """Two rows in, two predictions and two request ids out."""
    rows = [feature_row(loans, i) for i in range(2)]
    inputs = [{"name": n, "datatype": "FP64", "shape": [2], "data": [r[n] for r in rows]} for n in NUMERIC] + [
        {"name": n, "datatype": "BYTES", "shape": [2], "data": [r[n] for r in rows]} for n in CATEGORICAL
    ]
    body = client.post("/v2/models/loans/infer", json={"inputs": inputs}).json()
    assert [2, 2] == [len(body["outputs"][0]["data"]), len(set(body["parameters"]["request_ids"]))]


def test_a_bad_tensor_is_a_400_naming_the_input(client: TestClient) -> None:
    """The refusal carries the protocol's `error` and, as /predict's do, the field."""
    answer = client.post("/v2/models/loans/infer", json={"inputs": [{"name": "zip"}]})
    assert (400, "zip") == (answer.status_code, answer.json()["field"])
