"""The admin HTTP API: promotion and rollback by bearer token, for operators without a shell on the machine.

It changes production exactly as `driftline promote` and `driftline rollback` do, through the core registry, so
the checks (registered version, verified artifacts) and the history row are the same; the row's evidence says the
change came over HTTP. Every worker then picks the new version up by its usual pointer polling. Without a
configured token the API is off (403) whatever a request carries; a missing or wrong token is a 401. Tokens are
compared in constant time and never logged. The request and answer bodies are pydantic models, the one source of
both their validation and their OpenAPI schemas (`service/openapi.py`); store calls run off the event loop, and a
store that does not answer is a 503, as on /feedback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from driftline.core import ArtifactIntegrityError, DriftlineError, PromotionRefused, Registry, log_event, start_watch
from service.errors import error_response, json_error
from service.runtime import store_errors

log = logging.getLogger(__name__)

MAX_ADMIN_BODY_BYTES = 65_536  # far above any valid body (500 escaped characters at most), far below a hostile one
MAX_REASON_CHARS = 500
MAX_VERSION = 2**31 - 1  # the store's integer column
MAX_QUOTED_CHARS = 80  # an unknown field's name is quoted back, cut to this
NOT_CONFIRMED = "the change was not confirmed; see `driftline status` before trying again"


def _reason(default: str) -> str:
    """The `reason` field with the default an endpoint records (typed as the value pydantic puts there)."""
    return Field(
        default,
        strict=True,
        min_length=1,
        max_length=MAX_REASON_CHARS,
        description=f"text of 1 to {MAX_REASON_CHARS} characters saying why (recorded in the promotion history)",
    )


class PromoteRequest(BaseModel):
    """POST /admin/promote: the version to make production, and why."""

    model_config = ConfigDict(extra="forbid", title="AdminPromoteRequest")

    # strict: "2" and true are not version numbers
    version: int = Field(
        strict=True, ge=1, le=MAX_VERSION, description="a registered model version number (an integer from 1)"
    )
    reason: str = _reason("promoted over the admin API")
    watch_rows: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=1_000_000,
        description="run the replaced version as the shadow for this many labelled requests; the monitor rolls the "
        "promotion back if the new version does worse (absent: no watch)",
    )


class RollbackRequest(BaseModel):
    """POST /admin/rollback: why; the version rolled back to is the one in production before the current one."""

    model_config = ConfigDict(extra="forbid", title="AdminRollbackRequest")

    reason: str = _reason("manual rollback over the admin API")


class ProductionChange(BaseModel):
    """What either endpoint answers: production after the change, and the promotion it was recorded as."""

    model_config = ConfigDict(title="AdminProductionChange")

    model_version: int = Field(description="the version now in production")
    previous_version: int | None = Field(description="the version in production before the change")
    promotion_kind: Literal["manual", "rollback"] = Field(description="how the change is recorded in the history")
    promotion_reason: str = Field(description="the reason recorded with it")


Body = TypeVar("Body", PromoteRequest, RollbackRequest)


class AdminAPI:
    """POST /admin/promote {"version": N, "reason": "…"} and POST /admin/rollback {"reason": "…"}."""

    def __init__(self, token: SecretStr | None, registry: Callable[[], Registry | None]) -> None:
        self._token = token.get_secret_value().encode() if token is not None else None
        self._registry = registry

    def routes(self) -> list[Route]:
        return [
            Route("/admin/promote", self.promote, methods=["POST"]),
            Route("/admin/rollback", self.rollback, methods=["POST"]),
        ]

    async def promote(self, request: Request) -> JSONResponse:
        """Make a registered version production, recorded as a manual promotion from HTTP."""
        refused = self._authorise(request)
        if refused is not None:
            return refused
        body = await _parsed(request, PromoteRequest, empty_allowed=False)
        if isinstance(body, JSONResponse):
            return body
        evidence = {"who": "http", "client": request.client.host if request.client else None}

        def promote(registry: Registry, previous: int | None) -> int:
            registry.promote(body.version, kind="manual", reason=body.reason, evidence=evidence)
            if body.watch_rows is not None:
                start_watch(
                    registry.store, version=body.version, previous=previous, rows=body.watch_rows, reason=body.reason
                )
            return body.version

        return await self._change(promote, "manual", body.reason)

    async def rollback(self, request: Request) -> JSONResponse:
        """Back to the previous production version, recorded as a rollback from HTTP."""
        refused = self._authorise(request)
        if refused is not None:
            return refused
        body = await _parsed(request, RollbackRequest, empty_allowed=True)
        if isinstance(body, JSONResponse):
            return body
        evidence = {"who": "http", "client": request.client.host if request.client else None}
        return await self._change(
            lambda registry, _previous: registry.rollback(body.reason, evidence=evidence), "rollback", body.reason
        )

    def _authorise(self, request: Request) -> JSONResponse | None:
        if self._token is None:
            return json_error(
                HTTPStatus.FORBIDDEN,
                "the admin API is off: set serving.admin_token (DRIFTLINE_SERVING__ADMIN_TOKEN) to enable it",
            )
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), self._token):
            log_event(
                log, logging.WARNING, "admin request refused: missing or wrong bearer token", path=request.url.path
            )
            response = json_error(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token for the admin API")
            response.headers["WWW-Authenticate"] = 'Bearer realm="driftline-admin"'
            return response
        return None

    async def _change(
        self, change: Callable[[Registry, int | None], int], kind: Literal["manual", "rollback"], reason: str
    ) -> JSONResponse:
        registry = self._registry()
        if registry is None:
            return json_error(HTTPStatus.SERVICE_UNAVAILABLE, "the service is still starting")

        def read_and_change() -> tuple[int | None, int]:
            previous = registry.store.production_version()
            return previous, change(registry, previous)

        try:
            # off the event loop: a store that does not answer must not stall this worker's predictions
            with store_errors(NOT_CONFIRMED):
                previous, version = await asyncio.to_thread(read_and_change)
        except ArtifactIntegrityError as exc:
            # a tampered or missing artifact is a refusal of this change, not an outage of the service
            return error_response(PromotionRefused(str(exc)))
        except DriftlineError as exc:
            return error_response(exc)
        log_event(
            log, logging.WARNING, "production changed over the admin API", from_version=previous, to_version=version
        )
        answer = ProductionChange(
            model_version=version, previous_version=previous, promotion_kind=kind, promotion_reason=reason
        )
        return JSONResponse(answer.model_dump())


async def _parsed(request: Request, model: type[Body], *, empty_allowed: bool) -> Body | JSONResponse:
    """The body as `model`, or the 4xx that names what was wrong with it."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_ADMIN_BODY_BYTES:  # stop reading: a hostile body is never held whole
            return json_error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"admin request body is over the limit of {MAX_ADMIN_BODY_BYTES:,} bytes",
            )
    if not raw.strip():
        if not empty_allowed:
            return _bad("body", "empty; send a JSON object")
        raw = bytearray(b"{}")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        return _refusal(model, exc)


def _refusal(model: type[BaseModel], error: ValidationError) -> JSONResponse:
    """A 400 naming the first field at fault and what it should be; the values sent are not quoted back."""
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    kind, location = first["type"], first["loc"]
    if not location:  # the body as a whole
        if kind == "json_invalid":
            return _bad("body", f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}")
        return _bad("body", "expected a JSON object")
    field = str(location[0])
    if kind == "extra_forbidden":
        expected = ", ".join(
            f"{name} ({'required' if info.is_required() else 'optional'})" for name, info in model.model_fields.items()
        )
        return _bad(field[:MAX_QUOTED_CHARS], f"unknown field; the fields are {expected}")
    wanted = model.model_fields[field].description
    return _bad(field, f"{first['msg'][:1].lower()}{first['msg'][1:]}; expected {wanted}")


def _bad(field: str, reason: str) -> JSONResponse:
    return json_error(HTTPStatus.BAD_REQUEST, f"field {field!r}: {reason}", field=field)
