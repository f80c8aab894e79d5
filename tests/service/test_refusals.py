"""The refusal log filter and the refusal counter on their own."""

from __future__ import annotations

import asyncio
import logging
import sys
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from service.refusals import ClientErrorFilter, RefusalCounter


class Row(BaseModel):
    income: float


def record_of(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord("bentoml", logging.ERROR, __file__, 1, "Exception on %s", ("/predict",), exc_info)


def validation_error() -> ValidationError:
    try:
        Row.model_validate({"income": "secret"})
    except ValidationError as exc:
        return exc
    raise AssertionError("the row validated")


def test_client_errors_are_dropped_and_server_errors_kept() -> None:
    """Pydantic refusals, cut bodies and BentoML 4xx errors are dropped; 5xx, other errors and plain records stay."""
    errors: list[BaseException] = [
        validation_error(),
        ClientDisconnect(),
        BentoMLException("bad", error_code=HTTPStatus.BAD_REQUEST),
        BentoMLException("broken", error_code=HTTPStatus.INTERNAL_SERVER_ERROR),
        RuntimeError("broken"),
    ]
    kept = [ClientErrorFilter().filter(record_of(error)) for error in errors]
    plain = logging.LogRecord("bentoml", logging.ERROR, __file__, 1, "no exception", (), None)
    assert [False, False, False, True, True, True] == [*kept, ClientErrorFilter().filter(plain)]


def answer(status: int, path: str) -> list[tuple[str, int]]:
    """What the counter counts for one request to `path` that the app answers with `status`."""
    counted: list[tuple[str, int]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    endpoints = ("/predict", "/v2/models/{name}/infer")
    counter = RefusalCounter(app, count=lambda *labels: counted.append(labels), endpoints=endpoints)
    asyncio.run(counter({"type": "http", "path": path, "method": "POST"}, receive, send))
    return counted


def test_only_4xx_answers_are_counted_with_a_bounded_endpoint_label() -> None:
    """A 4xx counts under its path if listed, else "other"; 2xx and 5xx are not counted."""
    assert [("/predict", 400)] == answer(400, "/predict")
    assert [("other", 404)] == answer(404, f"/{'x' * 500}")
    assert [] == answer(200, "/predict") + answer(503, "/predict")


def test_a_path_fitting_a_listed_template_counts_under_the_template() -> None:
    """The model name a client put in the path never becomes a label value."""
    assert [("/v2/models/{name}/infer", 400)] == answer(400, "/v2/models/anything-at-all/infer")
