"""The admin HTTP API: promotion and rollback by bearer token, for operators without a shell on the machine.

It changes production exactly as `driftline promote` and `driftline rollback` do, through the core registry, so
the checks (registered version, verified artifacts) and the history row are the same; the row's evidence says the
change came over HTTP. Every worker then picks the new version up by its usual pointer polling. Without a
configured token the API is off (403) whatever a request carries; a missing or wrong token is a 401. Tokens are
compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from driftline.core import ArtifactIntegrityError, DriftlineError, PromotionRefused, Registry, log_event
from service.errors import error_response, json_error

log = logging.getLogger(__name__)

MAX_ADMIN_BODY_BYTES = 65_536  # far above any valid body (500 escaped characters at most), far below a hostile one
MAX_REASON_CHARS = 500
MAX_VERSION = 2**31 - 1  # the store's integer column


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
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        unknown = set(body) - {"version", "reason"}
        version = body.get("version")
        if unknown:
            return _bad(sorted(unknown)[0][:80], "unknown field; send version and, optionally, reason")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_VERSION:
            return _bad("version", f"expected a model version number (an integer from 1), got {str(version)[:80]!r}")
        reason = _reason(body, "promoted over the admin API")
        if isinstance(reason, JSONResponse):
            return reason
        evidence = {"who": "http", "client": request.client.host if request.client else None}
        wanted: int = version

        def promote(registry: Registry) -> int:
            registry.promote(wanted, kind="manual", reason=reason, evidence=evidence)
            return wanted

        return await self._change(promote)

    async def rollback(self, request: Request) -> JSONResponse:
        """Back to the previous production version, recorded as a rollback from HTTP."""
        refused = self._authorise(request)
        if refused is not None:
            return refused
        body = await _json_object(request, empty_allowed=True)
        if isinstance(body, JSONResponse):
            return body
        if set(body) - {"reason"}:
            return _bad(sorted(set(body) - {"reason"})[0][:80], "unknown field; send only an optional reason")
        reason = _reason(body, "manual rollback over the admin API")
        if isinstance(reason, JSONResponse):
            return reason
        evidence = {"who": "http", "client": request.client.host if request.client else None}
        return await self._change(lambda registry: registry.rollback(reason, evidence=evidence))

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

    async def _change(self, change: Callable[[Registry], int]) -> JSONResponse:
        registry = self._registry()
        if registry is None:
            return json_error(HTTPStatus.SERVICE_UNAVAILABLE, "the service is still starting")
        previous = registry.store.production_version()
        try:
            version = await asyncio.to_thread(change, registry)
        except ArtifactIntegrityError as exc:
            # a tampered or missing artifact is a refusal of this change, not an outage of the service
            return error_response(PromotionRefused(str(exc)))
        except DriftlineError as exc:
            return error_response(exc)
        log_event(
            log, logging.WARNING, "production changed over the admin API", from_version=previous, to_version=version
        )
        promotion = registry.store.current_promotion()
        return JSONResponse(
            {
                "model_version": version,
                "previous_version": previous,
                "promotion_kind": promotion["kind"] if promotion else None,
                "promotion_reason": promotion["reason"] if promotion else None,
            }
        )


async def _json_object(request: Request, *, empty_allowed: bool = False) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    if len(raw) > MAX_ADMIN_BODY_BYTES:
        return json_error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"admin request body is over the limit of {MAX_ADMIN_BODY_BYTES:,}"
        )
    if not raw.strip():
        return {} if empty_allowed else _bad("body", "empty; send a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return _bad("body", f"malformed JSON: {str(exc)[:200]}")
    if not isinstance(body, dict):
        return _bad("body", f"expected a JSON object, got {type(body).__name__}")
    return body


def _reason(body: dict[str, Any], default: str) -> str | JSONResponse:
    reason = body.get("reason", default)
    if not isinstance(reason, str) or not 1 <= len(reason) <= MAX_REASON_CHARS:
        return _bad("reason", f"expected a string of 1 to {MAX_REASON_CHARS} characters")
    return reason


def _bad(field: str, reason: str) -> JSONResponse:
    return json_error(HTTPStatus.BAD_REQUEST, f"field {field!r}: {reason}", field=field)
