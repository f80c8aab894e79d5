from __future__ import annotations

import concurrent.futures
import io
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from retrain import train
from tests.factories import CATEGORICAL, NUMERIC, feature_row, make_loans
from tests.processes import Served, stop_process_group, wait_for
from tests.service.conftest import serving, settled_count
from tests.store_reads import labels_for

pytestmark = pytest.mark.integration


def wait_for_count(served: Served, count: int, seconds: float = 10) -> int:
    """The logged row count once it has reached `count`."""
    store = served.registry.store
    wait_for(f"{count:,} logged predictions", lambda: store.count_predictions() >= count, seconds, every=0.1)
    return store.count_predictions()


def test_predict_answers_one_row_or_several(served: Served) -> None:
    """A single object or a list: probabilities, class, model_version and one request_id per row."""
    loans = make_loans(10, seed=3)
    one = httpx.post(f"{served.url}/predict", json=feature_row(loans, 0)).json()
    many = httpx.post(f"{served.url}/predict", json=[feature_row(loans, i) for i in range(5)]).json()
    assert one["model_version"] == 1 and len(one["predictions"]) == 1
    assert {"request_id", "prediction", "probability", "probabilities"} == set(one["predictions"][0])
    assert len({p["request_id"] for p in many["predictions"]}) == 5
    assert math.isclose(1.0, sum(one["predictions"][0]["probabilities"].values()), abs_tol=1e-5)


def test_openapi_names_every_feature_and_its_type(served: Served) -> None:
    """Clients can read the request schema off /docs.json."""
    spec = httpx.get(f"{served.url}/docs.json").json()
    row = spec["components"]["schemas"]["FeatureRow"]
    types = {name: [t["type"] for t in prop["anyOf"]] for name, prop in row["properties"].items()}
    assert {**{n: ["number", "null"] for n in NUMERIC}, **{n: ["string", "null"] for n in CATEGORICAL}} == types
    assert False is row["additionalProperties"]


def as_json(value: Any) -> bytes:
    return httpx.Request("POST", "/", json=value).content


def with_income(raw: str) -> Callable[[dict[str, Any]], bytes]:
    """The good row with `income` replaced by a raw JSON token such as NaN."""
    return lambda good: as_json({**good, "income": 0.0}).replace(b'"income":0.0', f'"income":{raw}'.encode())


BAD_BODIES: list[tuple[str, Callable[[dict[str, Any]], bytes], int, str]] = [
    ("malformed", lambda good: b'{"income": 1,', 400, "malformed JSON"),
    ("empty list", lambda good: b"[]", 400, "at least 1 item"),
    (
        "missing feature",
        lambda good: as_json({k: v for k, v in good.items() if k != "age"}),
        400,
        "field 'age': Field required",
    ),
    ("extra feature", lambda good: as_json({**good, "zip": "x"}), 400, "field 'zip': Extra inputs are not permitted"),
    (
        "wrong type",
        lambda good: as_json({**good, "income": "lots"}),
        400,
        "field 'income': Input should be a valid number",
    ),
    ("NaN", with_income("NaN"), 400, "field 'income': Input should be a finite number"),
    ("infinity", with_income("Infinity"), 400, "field 'income': Input should be a finite number"),
    ("too many rows", lambda good: as_json([good] * 1001), 400, "at most 1000 items"),
    ("huge body", lambda good: b"[" + b" " * 9_000_000 + b"]", 413, "over the limit"),
    ("deep nesting", lambda good: b"[" * 50 + b"]" * 50, 400, "nested more than 16 levels"),
]


@pytest.mark.parametrize(("case", "body", "status", "message"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_input_gets_a_4xx_naming_the_problem_and_logs_nothing(
    served: Served, case: str, body: Callable[[dict[str, Any]], bytes], status: int, message: str
) -> None:
    """Each bad request is refused with its reason; no prediction is logged for it; the service keeps answering."""
    good = feature_row(make_loans(3, seed=4), 0)
    before = settled_count(served)
    response = httpx.post(
        f"{served.url}/predict", content=body(good), headers={"content-type": "application/json"}, timeout=30
    )
    assert status == response.status_code, response.text
    assert message in response.json()["error"]
    assert httpx.post(f"{served.url}/predict", json=good).status_code == 200
    assert before + 1 == settled_count(served)


def test_predict_batch_answers_a_200000_row_csv_with_a_file(served: Served, tmp_path: Path) -> None:
    """A large CSV upload comes back as a CSV with one prediction per row, in order, and is logged."""
    table = make_loans(200_000, seed=9)[NUMERIC + CATEGORICAL]
    path = tmp_path / "big.csv"
    table.to_csv(path, index=False)
    before = served.registry.store.count_predictions()
    with path.open("rb") as handle:
        response = httpx.post(
            f"{served.url}/predict_batch", files={"file": ("big.csv", handle, "text/csv")}, timeout=120
        )
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    result = pd.read_csv(io.BytesIO(response.content))
    assert len(result) == 200_000 and result["request_id"].is_unique
    assert list(result.columns) == ["request_id", "model_version", "prediction", "probability_0", "probability_1"]
    assert before + 200_000 == wait_for_count(served, before + 200_000, seconds=60)


def test_predict_batch_takes_parquet_and_json_and_refuses_bad_tables(served: Served, tmp_path: Path) -> None:
    """Parquet in, Parquet out; JSON rows in, JSON out; a table with a wrong column is a 400 naming it."""
    table = make_loans(50, seed=2)[NUMERIC + CATEGORICAL]
    table.to_parquet(tmp_path / "t.parquet")
    with (tmp_path / "t.parquet").open("rb") as handle:
        response = httpx.post(f"{served.url}/predict_batch", files={"file": ("t.parquet", handle)}, timeout=60)
    assert len(pd.read_parquet(io.BytesIO(response.content))) == 50
    rows = table.head(3).to_json(orient="records").encode()
    response = httpx.post(f"{served.url}/predict_batch", files={"file": ("rows.json", rows)}, timeout=60)
    assert len(response.json()) == 3 and {"request_id", "probability_1"} <= set(response.json()[0])
    bad = table.rename(columns={"age": "years"}).to_csv(index=False).encode()
    response = httpx.post(f"{served.url}/predict_batch", files={"file": ("bad.csv", bad)}, timeout=60)
    assert response.status_code == 400 and "'age': missing column" in response.json()["error"]
    latin = "income,age,debt_ratio,purpose,region\n1,2,0.1,caf\xe9,north\n".encode("latin-1")
    response = httpx.post(f"{served.url}/predict_batch", files={"file": ("latin.csv", latin)}, timeout=60)
    assert response.status_code == 400 and "not UTF-8" in response.json()["error"]


def test_feedback_labels_logged_predictions_and_refuses_unknown_ids(served: Served) -> None:
    """Labels by request_id, one or many; an unknown id is a 404 that names it and records nothing."""
    loans = make_loans(4, seed=5)
    answer = httpx.post(f"{served.url}/predict", json=[feature_row(loans, i) for i in range(3)]).json()
    ids = [p["request_id"] for p in answer["predictions"]]
    single = httpx.post(f"{served.url}/feedback", json={"request_id": ids[0], "label": 1}, timeout=30)
    bulk = httpx.post(f"{served.url}/feedback", json=[{"request_id": i, "label": 0} for i in ids[1:]], timeout=30)
    assert (single.status_code, bulk.status_code) == (200, 200) and bulk.json() == {"recorded": 2}
    unknown = httpx.post(
        f"{served.url}/feedback",
        json=[{"request_id": ids[0], "label": 0}, {"request_id": "no-such-id", "label": 1}],
        timeout=30,
    )
    assert unknown.status_code == 404 and unknown.json()["unknown_request_ids"] == ["no-such-id"]
    assert {ids[0]: 1, ids[1]: 0, ids[2]: 0} == labels_for(served.registry.store, ids)
    wrong = httpx.post(f"{served.url}/feedback", json={"request_id": ids[0], "label": "maybe"}, timeout=30)
    assert wrong.status_code == 400 and "not one of the classes" in wrong.json()["error"]


def test_get_model_and_metrics(served: Served) -> None:
    """GET /model describes production; /metrics carries the service's own counters from every worker."""
    info = httpx.get(f"{served.url}/model").json()
    assert (info["model_version"], info["promotion_kind"]) == (1, "initial") and info["metrics"]["roc_auc"] > 0.5
    httpx.post(f"{served.url}/predict", json=feature_row(make_loans(2), 0))
    metrics = httpx.get(f"{served.url}/metrics").text
    assert "driftline_predictions_total{" in metrics and "driftline_prediction_score_bucket" in metrics


def test_the_workers_metric_files_are_kept_in_memory(served: Served) -> None:
    """BentoML's per-worker metric files, which every request writes, live on tmpfs, not on the store's disk."""
    httpx.post(f"{served.url}/predict", json=feature_row(make_loans(2), 1))
    folder = (Path(served.settings.store.model_dir) / "prometheus_multiproc_dir").resolve()
    assert folder.parent == Path("/dev/shm")
    assert list(folder.glob("*.db")), "no worker metric files in the folder BentoML was given"


def test_every_worker_swaps_to_a_promoted_version_under_load_without_errors(served: Served) -> None:
    """While clients keep calling, a promotion reaches all responses within 5 s and no request fails."""
    good = [feature_row(make_loans(20, seed=8), i) for i in range(20)]
    stop = threading.Event()
    seen: list[tuple[float, int]] = []
    failures: list[str] = []

    def client(offset: int) -> None:
        with httpx.Client(timeout=30) as http:
            index = offset
            while not stop.is_set():
                response = http.post(f"{served.url}/predict", json=good[index % 20])
                index += 1
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    seen.append((time.monotonic(), response.json()["model_version"]))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for offset in range(8):
            pool.submit(client, offset)
        time.sleep(1.0)
        candidate = train(served.settings, served.registry, trigger="test").version.version
        promoted_at = time.monotonic()
        served.registry.promote(candidate, kind="manual", reason="swap test")
        time.sleep(7.0)
        stop.set()
    assert failures == []
    assert any(v == 1 for t, v in seen if t < promoted_at)
    late = [v for t, v in seen if t > promoted_at + 5.0]
    assert late and {candidate} == set(late)
    httpx.post(f"{served.url}/predict", json=good[0])


def test_sigterm_flushes_every_queued_prediction(tmp_path: Path) -> None:
    """With a long flush interval, records still queued at shutdown are written before the workers exit."""
    with serving(tmp_path, serving__log_flush_seconds=60.0, serving__log_batch_size=100_000) as served:
        loans = make_loans(30, seed=6)
        answered = 0
        for i in range(30):
            response = httpx.post(f"{served.url}/predict", json=feature_row(loans, i))
            answered += len(response.json()["predictions"])
        assert served.registry.store.count_predictions() == 0
        stop_process_group(served.process)
        assert answered == served.registry.store.count_predictions()
