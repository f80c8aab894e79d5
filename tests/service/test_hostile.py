"""Hostile requests against a real `driftline serve`: each is a 4xx naming what was wrong, none is logged, and an
oversized upload does not grow the workers' memory.

Cases already covered in test_http.py (malformed, NaN, Infinity, deep nesting, a declared oversized body, a
non-UTF-8 CSV, a renamed column) are not repeated here.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest

from tests.factories import CATEGORICAL, NUMERIC, feature_row, make_loans
from tests.processes import Served
from tests.service.conftest import serving, settled_count

pytestmark = pytest.mark.integration

MAX_BODY = 1_000_000
MAX_BATCH = 2_000_000


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("hostile")
    with serving(folder, serving__max_body_bytes=MAX_BODY, serving__max_batch_bytes=MAX_BATCH) as served:
        yield served


def good_row() -> dict[str, Any]:
    return feature_row(make_loans(3, seed=4), 0)


def table(**changes: Any) -> pd.DataFrame:
    frame = make_loans(20, seed=7)[NUMERIC + CATEGORICAL]
    return frame.assign(**changes)


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def json_with(raw: str) -> bytes:
    """The good row with `income` replaced by a raw JSON token."""
    return json.dumps({**good_row(), "income": 0.0}).replace('"income": 0.0', f'"income": {raw}').encode()


Send = Callable[[str], httpx.Response]


def post_json(path: str, body: bytes, content_type: str = "application/json") -> Send:
    return lambda url: httpx.post(f"{url}{path}", content=body, headers={"content-type": content_type}, timeout=60)


def upload(name: str, content: bytes) -> Send:
    return lambda url: httpx.post(f"{url}/predict_batch", files={"file": (name, content)}, timeout=60)


def chunked(path: str, total: int, content_type: str) -> Send:
    """A body of `total` bytes sent without a content-length, so only counting can stop it."""

    def body() -> Iterator[bytes]:
        head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\nincome\n'
        yield head if content_type.startswith("multipart") else b"["
        for _ in range(total // 65536):
            yield b"1\n" * 32768 if content_type.startswith("multipart") else b" " * 65536

    return lambda url: httpx.post(f"{url}{path}", content=body(), headers={"content-type": content_type}, timeout=60)


HOSTILE: list[tuple[str, Send, int, str]] = [
    (
        "chunked body over the JSON limit",
        chunked("/predict", 5 * MAX_BODY, "application/json"),
        413,
        "over the limit of 1,000,000 bytes",
    ),
    (
        "long categorical value",
        post_json("/predict", json.dumps({**good_row(), "purpose": "x" * 100_000}).encode()),
        400,
        "field 'purpose': String should have at most 200 characters",
    ),
    (
        "long feature name",
        post_json("/predict", json.dumps({**good_row(), "f" * 100_000: 1}).encode()),
        400,
        "… (100,000 characters)': Extra inputs are not permitted",
    ),
    ("huge number", post_json("/predict", json_with("1e300")), 400, "field 'income': Input should be less than"),
    ("boolean as a number", post_json("/predict", json_with("true")), 400, "field 'income': Input should be a valid"),
    ("text/plain to /predict", post_json("/predict", b"{}", "text/plain"), 415, "send application/json"),
    ("form to /predict", post_json("/predict", b"a=1", "application/x-www-form-urlencoded"), 415, "not accepted"),
    ("XML to /feedback", post_json("/feedback", b"<a/>", "application/xml"), 415, "send application/json"),
    ("raw CSV to /predict_batch", post_json("/predict_batch", b"income\n1\n", "text/csv"), 415, "multipart/form"),
    (
        "multipart without parts",
        post_json("/predict_batch", b'--b\r\n[{"a": 1}]--b--\r\n', "multipart/form-data; boundary=b"),
        400,
        "malformed multipart upload",
    ),
    (
        "batch file over the cap",
        upload("big.csv", table().to_csv(index=False).encode() * (MAX_BATCH // 1000)),
        413,
        "over the limit of 2,000,000",
    ),
    (
        "chunked batch over the cap",
        chunked("/predict_batch", 3 * MAX_BATCH, "multipart/form-data; boundary=b"),
        413,
        "over the limit of 2,000,000 bytes",
    ),
    ("parquet missing a column", upload("t.parquet", parquet(table().drop(columns="age"))), 400, "'age': missing"),
    ("parquet with an extra column", upload("t.parquet", parquet(table(zip="1"))), 400, "'zip': unknown column"),
    (
        "parquet with text in a numeric column",
        upload("t.parquet", parquet(table(income="lots"))),
        400,
        "field 'income': expected numbers, got 'lots'",
    ),
    (
        "truncated parquet",
        upload("t.parquet", parquet(table())[:-200]),
        400,
        "cannot read the uploaded table",
    ),
    (
        "huge number in a CSV",
        upload("t.csv", table(debt_ratio=1e308).to_csv(index=False).encode()),
        400,
        "field 'debt_ratio': numbers must be within ±1e+18",
    ),
    (
        "long category in a CSV",
        upload("t.csv", table(purpose="p" * 5000).to_csv(index=False).encode()),
        400,
        "field 'purpose': values must be at most 200 characters",
    ),
    ("latin-1 JSON lines", upload("t.jsonl", '{"purpose": "caf\xe9"}\n'.encode("latin-1")), 400, "upload"),
]


@pytest.mark.parametrize(("case", "send", "status", "message"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_input_gets_a_4xx_naming_the_problem_and_logs_nothing(
    hostile: Served, case: str, send: Send, status: int, message: str
) -> None:
    """Refused with the expected status and reason; nothing is logged; the next good request is answered."""
    before = settled_count(hostile)
    response = send(hostile.url)
    assert status == response.status_code, response.text[:500]
    assert message in response.json()["error"]
    assert len(response.content) < 5000
    assert 200 == httpx.post(f"{hostile.url}/predict", json=good_row(), timeout=30).status_code
    assert before + 1 == settled_count(hostile)


def test_a_post_to_a_read_only_route_is_405(hostile: Served) -> None:
    """The guard leaves paths it does not own to the app, which refuses the method."""
    assert 405 == httpx.post(f"{hostile.url}/livez", content=b"x", timeout=30).status_code


def worker_rss(served: Served) -> int:
    """Resident memory of the server and all its worker processes, in bytes."""
    root = psutil.Process(served.process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def test_refused_oversized_uploads_do_not_grow_worker_memory(hostile: Served, tmp_path: Path) -> None:
    """Forty times the limit, streamed twenty times over: the refusals leave the workers' memory where it was."""
    for _ in range(3):  # warm up: first requests allocate caches in every worker
        httpx.post(f"{hostile.url}/predict", json=good_row(), timeout=30)
    before = worker_rss(hostile)
    send = chunked("/predict_batch", 40 * MAX_BATCH, "multipart/form-data; boundary=b")
    for _ in range(20):
        assert 413 == send(hostile.url).status_code
    send = chunked("/predict", 40 * MAX_BODY, "application/json")
    for _ in range(20):
        assert 413 == send(hostile.url).status_code
    growth = worker_rss(hostile) - before
    assert growth < 60 * 1024 * 1024, f"workers grew by {growth / 2**20:.0f} MiB"
