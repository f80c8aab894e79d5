"""ASGI middleware in front of the BentoML app: body size limits, malformed JSON, readable validation errors.

BentoML 1.4 has no request-body limit and answers malformed JSON with a 500, so this refuses both first. It also
rewrites BentoML's pydantic 400 bodies into one sentence naming the row, the field and the problem.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


MAX_JSON_DEPTH = 16  # rows are flat objects in a list; anything deeper is not a prediction request


def nesting_exceeds(value: Any, limit: int) -> bool:
    """True when lists and objects nest deeper than `limit` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def describe_validation_error(body: dict[str, Any]) -> dict[str, Any]:
    """`row 3, field 'temp': Input should be a finite number` from BentoML's pydantic error list."""
    details = body.get("detail")
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return body
    first = details[0]
    loc = [part for part in first.get("loc", []) if part != "root"]
    row = next((part for part in loc if isinstance(part, int)), None)
    names = [str(part) for part in loc if not isinstance(part, int)]
    field = names[-1] if names else "body"
    where = f"row {row}, " if row is not None else ""
    message = f"{where}field {field!r}: {first.get('msg', 'invalid')}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problems)"
    out: dict[str, Any] = {"error": message, "field": field, "detail": details}
    if row is not None:
        out["row"] = row
    return out


class RequestGuard:
    """Caps request bodies (413), refuses malformed or too deeply nested JSON (400), clarifies 400 bodies."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, upload_paths: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope.get("path") in self.upload_paths else self.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(
                send, 413, {"error": f"request body is {int(declared):,} bytes, over the limit of {limit:,}"}
            )
            return
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type == "application/json":
            await self._json_request(scope, receive, send, limit)
            return
        over_limit: list[bool] = []
        await self.app(scope, _counting(receive, limit, over_limit), _clarifying(send, over_limit, limit))

    async def _json_request(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, {"error": f"request body is over the limit of {limit:,} bytes"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not body.strip():
            await _send_json(send, 400, {"error": "request body is empty; send JSON rows"})
            return
        try:
            too_deep = nesting_exceeds(json.loads(body), MAX_JSON_DEPTH)
        except RecursionError:
            too_deep = True
        except (ValueError, UnicodeDecodeError) as exc:
            await _send_json(send, 400, {"error": f"malformed JSON: {exc}"})
            return
        if too_deep:
            await _send_json(send, 400, {"error": f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, _clarifying(send))


def _counting(receive: Receive, limit: int, over_limit: list[bool]) -> Receive:
    """Pass the body through until it passes `limit`; then end it as a disconnect and flag it."""
    size = 0

    async def wrapped() -> Message:
        nonlocal size
        if over_limit:
            return {"type": "http.disconnect"}
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            over_limit.append(True)
            return {"type": "http.disconnect"}
        return message

    return wrapped


def _clarifying(send: Send, over_limit: list[bool] | None = None, limit: int = 0) -> Send:
    """Buffer 400 responses only, and rewrite their JSON body; everything else passes straight through.

    When the body was cut at the size limit, whatever the app answers becomes a 413.
    """
    start: Message | None = None
    parts: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if over_limit:
            if message["type"] == "http.response.start":
                await _send_json(send, 413, {"error": f"request body is over the limit of {limit:,} bytes"})
            return
        if message["type"] == "http.response.start" and message["status"] == 400:
            start = message
            return
        if start is None:
            await send(message)
            return
        parts.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        raw = b"".join(parts)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            raw = json.dumps(describe_validation_error(body)).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": raw, "more_body": False})

    return wrapped


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw, "more_body": False})
