from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from driftline.core import DataError, InvalidInput, PayloadTooLarge, Settings, UnknownRequestIds
from retrain import TrainingOutcome
from service.runtime import ServingRuntime, read_upload, write_result
from tests.factories import CATEGORICAL, NUMERIC, feature_row
from tests.processes import wait_for
from tests.store_reads import labels_for, recent_predictions


@pytest.fixture
def runtime(trained: TrainingOutcome, settings: Settings) -> Iterator[ServingRuntime]:
    serving = ServingRuntime(settings, watch=False)
    yield serving
    serving.close()


def wait_for_rows(runtime: ServingRuntime, count: int) -> None:
    wait_for(f"{count} logged rows", lambda: runtime.store.count_predictions() >= count, 5, every=0.02)


def test_predictions_answer_with_ids_and_are_logged(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """Each row gets a probability, a class and a request_id; the record reaches the store with its features."""
    rows = [feature_row(loans, i) for i in range(3)]
    answer = asyncio.run(runtime.predict(rows))
    predictions = answer["predictions"]
    assert answer["model_version"] == 1 and len({p["request_id"] for p in predictions}) == 3
    assert all(0 <= p["probability"] <= 1 and p["prediction"] in (0, 1) for p in predictions)
    wait_for_rows(runtime, 3)
    logged = {r["request_id"]: r for r in recent_predictions(runtime.store, 3)}
    first = logged[predictions[0]["request_id"]]
    assert rows[0] == first["features"] and predictions[0]["probability"] == first["output"]["probability"]


def test_feedback_records_labels_for_known_ids_only(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """Known ids are labelled; one unknown id refuses the whole request and records nothing."""
    ids = [
        p["request_id"]
        for p in asyncio.run(runtime.predict([feature_row(loans, 0), feature_row(loans, 1)]))["predictions"]
    ]
    assert asyncio.run(runtime.feedback([(ids[0], 1), (ids[1], "0")])) == {"recorded": 2}
    assert {ids[0]: 1, ids[1]: 0} == labels_for(runtime.store, ids)
    with pytest.raises(UnknownRequestIds, match="nope"):
        asyncio.run(runtime.feedback([(ids[0], 0), ("nope", 1)]))
    assert labels_for(runtime.store, [ids[0]])[ids[0]] == 1


def test_labels_must_be_classes_of_the_model(runtime: ServingRuntime) -> None:
    """A label that is not a class is refused with the item's position."""
    with pytest.raises(InvalidInput, match=r"row 0, field 'label'.*not one of the classes"):
        asyncio.run(runtime.feedback([("x", "maybe")]))


def test_tables_are_predicted_in_order_and_logged(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """A table keeps its row order, gets one id per row and class probabilities as columns."""
    table = loans[NUMERIC + CATEGORICAL].iloc[:250]
    result, model = runtime.predict_table(table, "upload")
    assert len(result) == 250 and result["request_id"].is_unique
    expected = model.predict(model.schema.coerce(table.iloc[[7]]))[0]["probability"]
    assert expected == result["probability_1"].iloc[7]
    wait_for_rows(runtime, 250)
    assert runtime.store.count_predictions() == 250


def test_bad_tables_and_too_many_rows_are_refused(runtime: ServingRuntime, loans: pd.DataFrame) -> None:
    """Empty tables, wrong columns and oversized requests each get their error; nothing is logged."""
    with pytest.raises(InvalidInput, match="no rows"):
        runtime.predict_table(loans[NUMERIC + CATEGORICAL].iloc[:0], "upload")
    with pytest.raises(InvalidInput, match="'income': missing column"):
        runtime.predict_table(loans[["age"]], "upload")
    runtime.settings.serving.max_rows_per_request = 2
    with pytest.raises(PayloadTooLarge, match="rows in one predict request is 3"):
        asyncio.run(runtime.predict([feature_row(loans, i) for i in range(3)]))
    time.sleep(0.3)
    assert runtime.store.count_predictions() == 0


def test_uploads_are_read_by_format_and_non_utf8_is_refused(tmp_path: Path, loans: pd.DataFrame) -> None:
    """CSV, Parquet and JSON come back in their own format; Latin-1 bytes are a clear error."""
    table = loans[NUMERIC + CATEGORICAL].iloc[:5]
    table.to_parquet(tmp_path / "t.parquet")
    table.to_json(tmp_path / "t.json", orient="records")
    for name, kind in (("t.parquet", "parquet"), ("t.json", "json")):
        frame, found = read_upload(tmp_path / name, name, None, 10**6)
        assert (kind, 5) == (found, len(frame))
        assert write_result(frame, tmp_path, kind).suffix == f".{kind}"
    (tmp_path / "latin.csv").write_bytes("purpose\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_upload(tmp_path / "latin.csv", "latin.csv", None, 10**6)
    with pytest.raises(PayloadTooLarge):
        read_upload(tmp_path / "t.parquet", "t.parquet", None, 10)


def test_model_info_names_version_metrics_and_promotion(runtime: ServingRuntime) -> None:
    """GET /model's body: version, features, metrics, when and why promoted."""
    info = runtime.model_info()
    assert (
        info["model_version"],
        info["promotion_kind"],
        info["promotion_reason"],
    ) == (1, "initial", "first version trained")
    assert info["features"]["categorical"] == ["purpose", "region"] and info["metrics"]["roc_auc"] > 0.5


def test_model_info_says_what_the_baseline_is_and_when_drift_may_retrain(runtime: ServingRuntime) -> None:
    """GET /model's body names a first version's baseline as a dummy, and no retrain has made anyone wait yet."""
    info = runtime.model_info()
    assert ("dummy", None, None, "none") == (
        info["baseline_kind"],
        info["champion_version"],
        info["next_drift_retrain"]["allowed_at"],
        info["next_drift_retrain"]["kind"],
    )


def test_model_info_reports_the_back_off_after_a_rejected_drift_retrain(runtime: ServingRuntime) -> None:
    """A rejected drift retrain in the store doubles the wait that GET /model reports."""
    runtime.settings.retrain.cooldown_seconds = 600
    store = runtime.store
    store.finish_run(store.start_run("drift"), status="succeeded", details={"outcome": "rejected"})
    backoff = runtime.model_info()["next_drift_retrain"]
    assert (1, 1200, "backoff") == (backoff["rejected_in_a_row"], backoff["wait_seconds"], backoff["kind"])
