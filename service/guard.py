"""ASGI middleware in front of the BentoML app: body size limits, content types, malformed JSON, readable errors.

BentoML 1.4 has no request-body limit, answers malformed JSON and unexpected content types with a 500, and parses
form bodies sent to a JSON endpoint as if they were JSON; so this refuses all of them first. It also rewrites
BentoML's pydantic 400 bodies into one sentence naming the row, the field and the problem, with names a client
sent cut short so a hostile request cannot make the answer huge.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from service.paths import PathTemplates

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# given the path and the JSON body, the app to answer with when the body is valid as it stands; else None, and the
# request goes on as any other
DirectHandler = Callable[[str, bytes], Awaitable[ASGIApp | None]]


MAX_JSON_DEPTH = 16  # rows are flat objects in a list; anything deeper is not a prediction request
MAX_NAME_CHARS = 80  # longest field name quoted back in an error
CONTAINERS = (dict, list)  # what parsed JSON nests in (exact types: json and pydantic_core build no subclasses)


def shorten(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """`text` as it may appear in an error message: cut at `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def nesting_exceeds(value: Any, limit: int, depth: int = 1) -> bool:
    """True when lists and objects nest deeper than `limit` (the recursion stops there, so it stays shallow)."""
    if type(value) not in CONTAINERS:
        return False
    if depth > limit:
        return True
    for child in value.values() if type(value) is dict else value:
        if type(child) in CONTAINERS and nesting_exceeds(child, limit, depth + 1):
            return True
    return False


def describe_validation_error(body: dict[str, Any]) -> dict[str, Any]:
    """`row 3, field 'temp': Input should be a finite number` from BentoML's pydantic error list."""
    details = body.get("detail")
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return body
    details = [_short_detail(item) for item in details[:20] if isinstance(item, dict)]
    first = details[0]
    loc = [part for part in first.get("loc", []) if part != "root"]
    row = next((part for part in loc if isinstance(part, int)), None)
    names = [str(part) for part in loc if not isinstance(part, int)]
    field = names[-1] if names else "body"
    where = f"row {row}, " if row is not None else ""
    message = f"{where}field {field!r}: {first.get('msg', 'invalid')}"
    if len(body["detail"]) > 1:
        message += f" (and {len(body['detail']) - 1} more problems)"
    out: dict[str, Any] = {"error": message, "field": field, "detail": details}
    if row is not None:
        out["row"] = row
    return out


def _short_detail(item: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error with the names in its location shortened and the offending input left out."""
    loc = [shorten(part) if isinstance(part, str) else part for part in item.get("loc", [])]
    return {key: value for key, value in item.items() if key not in ("input", "ctx")} | {"loc": loc}


class RequestGuard:
    """Caps request bodies (413), checks content types (415), refuses bad JSON (400), clarifies 400 bodies.

    `json_paths` take JSON only (a missing content type counts as JSON), `upload_paths` multipart uploads only;
    other POST paths get the size limit and go on to the app. Both may hold templates (`/v2/models/{name}/infer`).
    A JSON path (or template) in `direct` first offers its body to that handler, which may answer it at once.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        json_paths: tuple[str, ...] = (),
        upload_paths: tuple[str, ...] = (),
        direct: Mapping[str, DirectHandler] | None = None,
    ) -> None:
        self.app = app
        self.direct = dict(direct or {})
        self.direct_paths = PathTemplates(self.direct)
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.json_paths = PathTemplates(json_paths)
        self.upload_paths = PathTemplates(upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.max_upload_bytes if path in self.upload_paths else self.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_json(
                send, 413, {"error": f"request body is {int(declared):,} bytes, over the limit of {limit:,}"}
            )
            return
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if path in self.json_paths:
            if content_type != "application/json":
                await _unsupported(send, path, content_type, "application/json")
                return
            await self._json_request(scope, receive, send, limit)
            return
        framing: MultipartParser | None = None
        if path in self.upload_paths:
            if content_type != "multipart/form-data":
                await _unsupported(send, path, content_type, "multipart/form-data with the table in the field 'file'")
                return
            boundary = _boundary(headers.get("content-type", ""))
            if not boundary:
                await send_json(send, 400, {"error": "multipart upload without a boundary in its content type"})
                return
            framing = MultipartParser(boundary, callbacks={})
        refusal: list[tuple[int, str]] = []
        answered: list[bool] = []
        try:
            await self.app(scope, _checking(receive, limit, framing, refusal), _clarifying(send, refusal, answered))
        except Exception:
            if not refusal:  # the app failing on a body we cut short is expected; anything else is not ours
                raise
        if refusal and not answered:  # the app gave up on the cut body without answering
            await send_json(send, refusal[0][0], {"error": refusal[0][1]})

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
                await send_json(send, 413, {"error": f"request body is over the limit of {limit:,} bytes"})
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not body.strip():
            await send_json(send, 400, {"error": "request body is empty; send JSON rows"})
            return
        path = scope.get("path", "")
        template = self.direct_paths.template_of(path)
        answer = None if template is None else await self.direct[template](path, body)
        if answer is not None:
            await answer(scope, receive, send)
            return
        try:
            too_deep = nesting_exceeds(json.loads(body), MAX_JSON_DEPTH)
        except RecursionError:
            too_deep = True
        except (ValueError, UnicodeDecodeError) as exc:
            await send_json(send, 400, {"error": f"malformed JSON: {exc}"})
            return
        if too_deep:
            await send_json(send, 400, {"error": f"JSON is nested more than {MAX_JSON_DEPTH} levels deep"})
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, _clarifying(send))


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "boundary":
            return value.strip().strip('"')
    return ""


def _checking(receive: Receive, limit: int, framing: MultipartParser | None, refusal: list[tuple[int, str]]) -> Receive:
    """Pass the body through while it stays under `limit` and (uploads) is well-formed multipart.

    Otherwise end it as a disconnect and record why. BentoML answers a malformed multipart body with a 500, so
    the framing is checked here, on the same chunks, by the parser Starlette itself uses.
    """
    size = 0

    async def wrapped() -> Message:
        nonlocal size
        if refusal:
            return {"type": "http.disconnect"}
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            refusal.append((413, f"request body is over the limit of {limit:,} bytes"))
            return {"type": "http.disconnect"}
        if framing is not None and chunk:
            try:
                framing.write(chunk)
            except MultipartParseError as exc:
                refusal.append((400, f"malformed multipart upload: {str(exc)[:200]}"))
                return {"type": "http.disconnect"}
        return message

    return wrapped


def _clarifying(send: Send, refusal: list[tuple[int, str]] | None = None, answered: list[bool] | None = None) -> Send:
    """Buffer 400 responses only, and rewrite their JSON body; everything else passes straight through.

    When the body was cut short (see `_checking`), whatever the app answers becomes that refusal.
    """
    start: Message | None = None
    parts: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if refusal:
            if message["type"] == "http.response.start":
                status, error = refusal[0]
                await send_json(send, status, {"error": error})
                if answered is not None:
                    answered.append(True)
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


async def _unsupported(send: Send, path: str, content_type: str, wanted: str) -> None:
    message = f"content type {shorten(content_type or '(empty)')!r} is not accepted by {path}; send {wanted}"
    await send_json(send, 415, {"error": message})


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw, "more_body": False})
