"""Each hook of `driftline.bentoml_compat` against the installed BentoML: a test here failing after a BentoML
upgrade names the internal that moved or changed, before a server shows it as something stranger."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message

from driftline.bentoml_compat import (
    ERROR_LOGGER,
    WORKER_MODULE,
    create_model,
    json_root_spec,
    model_store,
    replace_traffic_timeout,
)
from service.deadline import RequestDeadline


def json_request(body: bytes) -> Request:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "POST", "path": "/predict", "headers": []}, receive)


async def no_app(scope: Any, receive: Any, send: Any) -> None:
    return None


def test_bentoml_builds_its_traffic_timeout_from_the_replacement() -> None:
    """The middleware BentoML's app factory adds for `traffic.timeout` is the replacement, given the timeout."""
    from bentoml._internal.server.base_app import BaseAppFactory
    from bentoml._internal.server.http import traffic

    original = traffic.TimeoutMiddleware
    try:
        replace_traffic_timeout(RequestDeadline)
        factory = type("Factory", (BaseAppFactory,), {"name": "test"})(timeout=42.0, max_concurrency=None)
        (middleware,) = factory.middlewares
        built = middleware.cls(no_app, **middleware.kwargs)  # type: ignore[operator]
        assert (RequestDeadline, 42.0) == (type(built), built.seconds)
    finally:
        traffic.TimeoutMiddleware = original  # type: ignore[misc]


def test_bentoml_parses_a_root_input_into_the_value_itself() -> None:
    """BentoML's JSON serde reads a body into the input spec, and its server passes the spec's root to the API."""
    from _bentoml_impl.serde import ALL_SERDE

    spec = json_root_spec(list[int], "Numbers", is_input=True)
    parsed = asyncio.run(spec.from_http_request(json_request(b"[1, 2]"), ALL_SERDE["application/json"]()))
    assert [1, 2] == parsed.root


def test_bentoml_sees_the_input_spec_as_a_root_input() -> None:
    """BentoML's server and clients tell a root input by `__root_input__` and the schema's `root_input` key."""
    spec = json_root_spec(list[int], "Numbers", is_input=True)
    assert (True, True) == (spec.__root_input__, spec.model_json_schema()["root_input"])


def test_bentoml_parses_a_request_without_rebuilding_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsing a body asks the spec for its schema only in the form the spec has cached."""
    from _bentoml_impl.serde import ALL_SERDE
    from _bentoml_sdk.io_models import IORootModel

    spec = json_root_spec(list[int], "Numbers", is_input=True)

    def rebuilt(cls: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("BentoML rebuilt the root spec's JSON schema for a request")

    monkeypatch.setattr(IORootModel, "model_json_schema", classmethod(rebuilt))
    parsed = asyncio.run(spec.from_http_request(json_request(b"[3]"), ALL_SERDE["application/json"]()))
    assert [3] == parsed.root


def test_bentoml_answers_an_output_spec_as_json() -> None:
    """BentoML turns what the API returns into a JSON response of the output spec's media type."""
    from _bentoml_impl.serde import ALL_SERDE

    spec = json_root_spec(dict[str, Any], "Answer", is_input=False)
    sent: list[Message] = []

    async def answer() -> None:
        async def send(message: Message) -> None:
            sent.append(message)

        response = await spec.to_http_response({"model_version": 3}, ALL_SERDE["application/json"]())
        await response({"type": "http", "method": "POST"}, json_request(b"").receive, send)

    asyncio.run(answer())
    headers = dict(sent[0]["headers"])
    body = b"".join(message.get("body", b"") for message in sent[1:])
    assert (b"application/json", {"model_version": 3}) == (headers[b"content-type"], json.loads(body))


def test_a_model_created_in_a_store_reads_back_from_it(tmp_path: Path) -> None:
    """Files written inside `create_model` are one model of that store on exit, with its metadata."""
    store = model_store(tmp_path / "models")
    with create_model(store, "compat-probe", metadata={"version": 7}) as model:
        Path(model.path_of("file.txt")).write_text("written inside the block", encoding="utf-8")
    stored = store.get(model.tag)
    read_back = (Path(stored.path_of("file.txt")).read_text(encoding="utf-8"), stored.info.metadata)
    assert ("written inside the block", {"version": 7}) == read_back


def test_a_model_store_keeps_its_models_in_the_folder_given(tmp_path: Path) -> None:
    """The store's models live under its folder, not under BENTOML_HOME's store."""
    store = model_store(tmp_path / "models")
    with create_model(store, "compat-probe") as model:
        Path(model.path_of("file.txt")).write_text("x", encoding="utf-8")
    assert Path(store.get(model.tag).path).is_relative_to(tmp_path / "models")


def test_bentoml_logs_request_errors_on_the_error_logger(caplog: pytest.LogCaptureFixture) -> None:
    """The function BentoML's server calls on a failed request logs on `ERROR_LOGGER`, where the filter sits."""
    from _bentoml_impl.server.app import log_exception

    try:
        raise ValueError("refused")
    except ValueError:
        with caplog.at_level(logging.ERROR):
            log_exception(json_request(b""))
    assert [ERROR_LOGGER] == [record.name for record in caplog.records]


def test_bentoml_serve_runs_its_workers_as_the_worker_module() -> None:
    """`bentoml serve` starts each worker as `python -m WORKER_MODULE`, which the tests look for."""
    from _bentoml_impl.server.serving import _SERVICE_WORKER_SCRIPT

    assert WORKER_MODULE == _SERVICE_WORKER_SCRIPT
