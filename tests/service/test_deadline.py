from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from service.deadline import RequestDeadline


class Slow:
    """An ASGI app that answers after `delay` seconds, noting whether it was cancelled."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.cancelled = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/")


def test_an_answer_in_time_passes_through() -> None:
    """A response started before the deadline is the app's own."""
    response = asyncio.run(call(RequestDeadline(Slow(0.01), seconds=1)))
    assert (200, b"ok") == (response.status_code, response.content)


def test_a_late_answer_is_a_504_and_the_work_is_cancelled() -> None:
    """Past the deadline the client gets 504 naming the limit, and the app's coroutine is cancelled."""
    slow = Slow(5)
    response = asyncio.run(call(RequestDeadline(slow, seconds=0.05)))
    assert (504, {"error": "the request was not answered within 0.05 s"}) == (response.status_code, response.json())
    assert slow.cancelled


def test_nothing_of_an_answered_request_is_held_by_its_timer() -> None:
    """Once answered, the request's context (here a marker in a context variable set by an outer layer, as a tracing
    span is) is free although the deadline is minutes away."""

    class Marker:
        pass

    current: contextvars.ContextVar[Marker] = contextvars.ContextVar("current")
    held: list[weakref.ref[Marker]] = []

    async def one_request() -> None:
        marker = Marker()
        held.append(weakref.ref(marker))
        current.set(marker)
        del marker
        response = await call(RequestDeadline(Slow(0), seconds=300))
        assert 200 == response.status_code

    async def scenario() -> None:
        # an earlier timer keeps the request's cancelled timer inside the loop's heap, as busy servers have
        earlier = asyncio.get_running_loop().call_later(100, lambda: None)
        await asyncio.create_task(one_request())
        await asyncio.sleep(0)
        gc.collect()
        assert [None] == [ref() for ref in held]
        earlier.cancel()

    asyncio.run(scenario())


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
def test_other_scopes_are_left_alone(scope_type: str) -> None:
    """Only HTTP requests get a deadline."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def noop() -> dict[str, Any]:
        return {}

    async def ignore(message: Any) -> None:
        return None

    asyncio.run(RequestDeadline(app, seconds=0.01)({"type": scope_type}, noop, ignore))
    assert [scope_type] == seen
