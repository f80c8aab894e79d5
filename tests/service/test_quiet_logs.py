"""Refused requests against a real `driftline serve` are counted on /metrics, not logged with tracebacks, and
none of the values a client sent reaches the service log."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import feature_row, make_loans
from tests.processes import Served
from tests.service.conftest import serving

pytestmark = pytest.mark.integration

MARKER = "zq-marker-5d1f0b"
MAX_BODY = 20_000
REQUESTS = 1_000


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    folder = tmp_path_factory.mktemp("quiet")
    log = folder / "serve.log"
    with serving(folder, log, serving__max_body_bytes=MAX_BODY, serving__max_batch_bytes=MAX_BODY) as served:
        yield served, log


def row(**changes: Any) -> dict[str, Any]:
    return {**feature_row(make_loans(3, seed=4), 0), **changes}


Send = Callable[[httpx.Client], httpx.Response]


def post(path: str, body: bytes, content_type: str = "application/json") -> Send:
    return lambda client: client.post(path, content=body, headers={"content-type": content_type})


def post_json(path: str, value: Any) -> Send:
    return post(path, json.dumps(value).encode())


def upload(fields: dict[str, tuple[str, bytes]]) -> Send:
    return lambda client: client.post("/predict_batch", files=fields)


def chunked(path: str, content_type: str, head: bytes, filler: bytes) -> Send:
    """A body over the limit sent without a content-length, so it is cut while it streams."""

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(3 * MAX_BODY // len(filler)):
            yield filler

    return lambda client: client.post(path, content=body(), headers={"content-type": content_type})


def without(name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if key != name}


INVALID: list[Send] = [
    post_json("/predict", without("age", row(purpose=MARKER))),
    post_json("/predict", row(zip=MARKER)),
    post_json("/predict", row(income=MARKER)),
    post_json("/predict", [row(), row(age=[MARKER])]),
    post_json("/predict", row(income=1e300, purpose=MARKER)),
    post_json("/predict", row(debt_ratio=-1e19, region=MARKER * 50)),
    post("/predict", f'{{"income": "{MARKER}", '.encode()),
    post("/predict", json.dumps(row(purpose=MARKER)).encode(), "text/plain"),
    post("/predict", json.dumps(row(purpose=MARKER * 2000)).encode()),  # over the body limit
    chunked("/predict", "application/json", f'[{{"purpose": "{MARKER}", "x": "'.encode(), MARKER.encode() * 100),
    chunked(
        "/predict_batch",
        "multipart/form-data; boundary=b",
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n\r\nincome\n',
        f"{MARKER}\n".encode() * 100,
    ),
    post_json("/feedback", {"request_id": MARKER, "label": [MARKER]}),
    post_json("/feedback", [{"request_id": MARKER}]),
    post("/feedback", f"<label>{MARKER}</label>".encode(), "application/xml"),
    upload({"table": ("t.csv", f"income\n{MARKER}\n".encode())}),
    upload({"file": ("t.csv", f"income,age,debt_ratio,purpose,region\n{MARKER},1,0.5,car,north\n".encode())}),
    post("/predict_batch", f"income\n{MARKER}\n".encode(), "text/csv"),
    post_json("/admin/promote", {"version": MARKER}),
    post_json("/admin/rollback", {"reason": MARKER}),
    post_json("/v2/models/loans/infer", {"inputs": [{"name": MARKER, "datatype": "BYTES", "shape": [1], "data": []}]}),
    post_json("/v2/models/loans/infer", {"inputs": [{"name": "age", "datatype": MARKER, "shape": [1], "data": [1]}]}),
    post_json("/v2/models/loans/infer", {"id": MARKER, "inputs": [{"name": "purpose", "shape": [MARKER]}]}),
    post_json(f"/v2/models/{MARKER}/versions/{MARKER}/infer", {"inputs": []}),
    post("/v2/models/loans/infer", f'{{"inputs": ["{MARKER}"'.encode()),
]


def rejected_total(served: Served) -> float:
    metrics = httpx.get(f"{served.url}/metrics", timeout=30).text
    return sum(float(value) for value in re.findall(r"^driftline_rejected_requests_total\{.*\} (\S+)$", metrics, re.M))


def test_refused_requests_are_counted_and_leave_no_trace_of_their_values_in_the_log(
    quiet: tuple[Served, Path],
) -> None:
    """A thousand mixed invalid requests: all 4xx, under 100 KB of log, no client value logged, all counted."""
    served, log = quiet
    counted_before = rejected_total(served)
    log_before = log.stat().st_size
    with httpx.Client(base_url=served.url, timeout=60) as client:
        statuses = [send(client).status_code for send in itertools.islice(itertools.cycle(INVALID), REQUESTS)]
    assert [] == [status for status in statuses if not 400 <= status < 500]
    assert float(REQUESTS) == rejected_total(served) - counted_before
    logged = log.read_bytes()[log_before:]
    assert len(logged) < 100_000, logged[-3000:].decode(errors="replace")
    assert MARKER.encode() not in logged
    assert b"Traceback" not in logged
