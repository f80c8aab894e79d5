"""Refused requests (4xx) are counted, not logged: a client's mistake is not the operator's error.

BentoML 1.4 validates a request body before any code of ours runs and, when pydantic refuses it, logs the whole
traceback at ERROR, quoting the values the client sent (`input_value=...`). Hostile or careless clients would
then fill the log with their own data. `quiet_client_errors` drops exactly those records, and the traceback BentoML
logs for a body the guard cut short, on BentoML's logger; `RefusalCounter` counts every 4xx answer by endpoint and
status instead, for /metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftline.bentoml_compat import ERROR_LOGGER
from service.paths import PathTemplates

OTHER_ENDPOINT = "other"


def is_client_error(error: BaseException | None) -> bool:
    """True for a pydantic refusal of the body, a BentoML 4xx exception, or a body that ended early.

    A body ends early when the client goes away or when `RequestGuard` cuts one over its limit (answered 413);
    either way the client, not the service, is at fault.
    """
    if isinstance(error, ValidationError | ClientDisconnect):
        return True
    from bentoml.exceptions import BentoMLException

    return isinstance(error, BentoMLException) and 400 <= int(error.error_code) < 500


class ClientErrorFilter(logging.Filter):
    """Drops log records about a request refused with a 4xx; the refusal is counted by `RefusalCounter`."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not is_client_error(error)


def quiet_client_errors() -> None:
    """Install `ClientErrorFilter` on BentoML's error logger once per process."""
    logger = logging.getLogger(ERROR_LOGGER)
    if not any(isinstance(existing, ClientErrorFilter) for existing in logger.filters):
        logger.addFilter(ClientErrorFilter())


class RefusalCounter:
    """Calls `count(endpoint, status)` for every 4xx answer; paths outside `endpoints` count as "other".

    Placed outermost, so refusals by the guard, by BentoML's validation and by the app are all seen; the endpoint
    label comes from a fixed list, never from the request, so a client cannot create new time series. A path that
    fits a template in the list (`/v2/models/{name}/infer`) is counted under the template.
    """

    def __init__(self, app: ASGIApp, *, count: Callable[[str, int], None], endpoints: tuple[str, ...]) -> None:
        self.app = app
        self.count = count
        self.endpoints = PathTemplates(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = self.endpoints.template_of(scope.get("path", "")) or OTHER_ENDPOINT

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                self.count(endpoint, message["status"])
            await send(message)

        await self.app(scope, receive, counting)
