from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from service.guard import RequestGuard, describe_validation_error


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    if request.url.path == "/invalid":
        detail = [{"type": "finite_number", "loc": ["root", 2, "temp"], "msg": "Input should be a finite number"}]
        return JSONResponse({"error": "1 validation error", "detail": detail}, status_code=400)
    return JSONResponse({"bytes": len(body)})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route(path, echo, methods=["POST"]) for path in ("/predict", "/upload", "/invalid")])
    guarded = RequestGuard(
        app,
        max_body_bytes=20_000,
        max_upload_bytes=50_000,
        json_paths=("/predict", "/invalid"),
        upload_paths=("/upload",),
    )
    return TestClient(guarded)  # type: ignore[arg-type]


def post(client: TestClient, path: str, content: bytes, content_type: str = "application/json") -> Any:
    return client.post(path, content=content, headers={"content-type": content_type})


def test_bodies_over_the_limit_get_413(client: TestClient) -> None:
    """JSON bodies have one limit, uploads another; both answer 413 with the numbers."""
    assert post(client, "/predict", b"[" + b"1," * 12_000 + b"1]").status_code == 413
    assert post(client, "/upload", upload(b"x" * 30_000), MULTIPART).status_code == 200
    response = post(client, "/upload", upload(b"x" * 60_000), MULTIPART)
    assert response.status_code == 413 and "50,000" in response.json()["error"]


MULTIPART = "multipart/form-data; boundary=b0undary"


def upload(content: bytes) -> bytes:
    """A well-formed multipart body with `content` as the file field."""
    head = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n\r\n'
    return head + content + b"\r\n--b0undary--\r\n"


def test_content_types_are_checked_per_path(client: TestClient) -> None:
    """JSON paths take JSON only, upload paths multipart only: anything else is a 415 naming both types."""
    response = post(client, "/predict", b'{"a": 1}', "text/plain")
    assert 415 == response.status_code
    assert "'text/plain' is not accepted by /predict; send application/json" in response.json()["error"]
    response = post(client, "/upload", b"a,b\n1,2\n", "text/csv")
    assert 415 == response.status_code and "multipart/form-data" in response.json()["error"]
    assert 200 == client.post("/predict", content=b'{"a": 1}').status_code  # no content type counts as JSON


def test_malformed_multipart_is_a_400_before_the_app_parses_it(client: TestClient) -> None:
    """A part without headers, or no boundary at all, is refused naming the problem."""
    response = post(client, "/upload", b'--b0undary\r\n[{"a": 1}]--b0undary--\r\n', MULTIPART)
    assert 400 == response.status_code and "malformed multipart upload" in response.json()["error"]
    response = post(client, "/upload", upload(b"x"), "multipart/form-data")
    assert 400 == response.status_code and "without a boundary" in response.json()["error"]


def test_long_field_names_are_cut_short_in_errors() -> None:
    """A 100,000-character feature name comes back as 80 characters and its length."""
    name = "z" * 100_000
    body = {"detail": [{"type": "extra_forbidden", "loc": ["root", 0, name], "msg": "Extra inputs", "input": 1}]}
    described = describe_validation_error(body)
    assert described["field"] == "z" * 80 + "… (100,000 characters)"
    assert len(json.dumps(described)) < 1000 and "input" not in described["detail"][0]


def test_malformed_empty_and_deep_json_get_400(client: TestClient) -> None:
    """The app never sees JSON it cannot parse."""
    assert "malformed JSON" in post(client, "/predict", b'{"a": ').json()["error"]
    assert "empty" in post(client, "/predict", b"").json()["error"]
    for depth in (20, 5000):
        response = post(client, "/predict", b"[" * depth + b"]" * depth)
        assert response.status_code == 400 and "nested more than 16 levels" in response.json()["error"]
    assert post(client, "/predict", b'{"a": 1}').json() == {"bytes": 8}


def test_validation_errors_become_one_sentence_naming_row_and_field(client: TestClient) -> None:
    """BentoML's pydantic detail list is summarised first, and kept."""
    body = post(client, "/invalid", json.dumps({"x": 1}).encode()).json()
    assert body["error"] == "row 2, field 'temp': Input should be a finite number"
    assert (body["row"], body["field"]) == (2, "temp") and body["detail"]
