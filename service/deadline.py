"""A time limit on answering each request, whose timer is dropped as soon as the answer starts.

BentoML 1.4's traffic timeout (`TimeoutMiddleware`) schedules a timer per request that is never cancelled, and each
timer holds a copy of the request's context (tracing span, request state) for the whole timeout: at hundreds of
requests a second with a 300 s timeout, hundreds of MiB held for nothing. Its timeout cannot be switched off, so
`take_over_bentoml_timeout` puts `RequestDeadline` in its place: the same 504 for a request that has not started
its answer in time, a timer cancelled the moment it has, and no context kept by the timer.
"""

from __future__ import annotations

import asyncio
import contextvars

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftline.bentoml_compat import replace_traffic_timeout
from service.guard import send_json


class RequestDeadline:
    """Answers 504 when the app has not started a response within `seconds`; the app's work is then cancelled."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        expired = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                timer.cancel()
            await send(message)

        def expire() -> None:
            nonlocal expired
            if not started:
                expired = True
                work.cancel()

        work = asyncio.ensure_future(self.app(scope, receive, sending))
        # an empty context: the timer must not keep the request's context variables alive (a cancelled timer waits
        # in the loop's heap until it is cleaned out)
        timer = asyncio.get_running_loop().call_later(self.seconds, expire, context=contextvars.Context())
        try:
            await work
        except asyncio.CancelledError:
            if not expired:
                raise
            await send_json(send, 504, {"error": f"the request was not answered within {self.seconds:g} s"})
        finally:
            timer.cancel()


def take_over_bentoml_timeout() -> None:
    """Make BentoML build its traffic timeout from `RequestDeadline` (it builds the middleware with the app)."""
    replace_traffic_timeout(RequestDeadline)
