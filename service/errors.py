"""The one place domain errors become HTTP responses.

Responses are built here rather than raised as `bentoml.exceptions.*`: BentoML 1.4 wraps the body of those in a
list and hides the message of 5xx ones, while operators and clients need one JSON object naming what was wrong.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from driftline.core import (
    ArtifactIntegrityError,
    DataError,
    DriftlineError,
    InvalidInput,
    NoProductionModel,
    PayloadTooLarge,
    PromotionRefused,
    StoreUnavailable,
    UnknownRequestIds,
    UnknownVersion,
)
from service.guard import shorten

_STATUS: list[tuple[type[DriftlineError], HTTPStatus]] = [
    (InvalidInput, HTTPStatus.BAD_REQUEST),
    (DataError, HTTPStatus.BAD_REQUEST),
    (PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (UnknownRequestIds, HTTPStatus.NOT_FOUND),
    (UnknownVersion, HTTPStatus.NOT_FOUND),
    (PromotionRefused, HTTPStatus.CONFLICT),
    (NoProductionModel, HTTPStatus.SERVICE_UNAVAILABLE),
    (ArtifactIntegrityError, HTTPStatus.SERVICE_UNAVAILABLE),
    (StoreUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
]


def status_for(error: DriftlineError) -> HTTPStatus:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


MAX_MESSAGE_CHARS = 2000  # messages quote what a client sent (column names, values); a hostile one stays short


def error_body(error: DriftlineError) -> dict[str, Any]:
    message = str(error)
    if len(message) > MAX_MESSAGE_CHARS:
        message = f"{message[:MAX_MESSAGE_CHARS]}… (cut; {len(message):,} characters)"
    body: dict[str, Any] = {"error": message}
    if isinstance(error, InvalidInput):
        body["field"] = shorten(error.field)
        if error.row is not None:
            body["row"] = error.row
    if isinstance(error, UnknownRequestIds):
        body["unknown_request_ids"] = error.request_ids[:100]
    return body


def error_response(error: DriftlineError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=status_for(error))


def json_error(status: HTTPStatus, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)
