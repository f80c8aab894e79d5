from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from driftline.core import PREDICTION_COLUMN, Registry, Settings
from monitoring import DriftChecker
from monitoring.window import SampleCache, to_frame
from retrain import TrainingOutcome
from tests.factories import make_loans
from tests.monitoring.conftest import log_predictions


@pytest.fixture
def checker(settings: Settings, registry: Registry, trained: TrainingOutcome) -> DriftChecker:
    settings.monitoring.min_rows = 200
    settings.monitoring.window_rows = 1000
    return DriftChecker(settings, registry)


def test_a_small_window_is_skipped_with_its_reason(checker: DriftChecker, registry: Registry) -> None:
    """Below min_rows nothing is compared; the reason names the counts."""
    log_predictions(registry, make_loans(50, seed=11))
    result = checker.run()
    assert (result.outcome, result.drift) == ("skipped", None)
    assert result.reason == "50 rows served by version 1 in the window; at least 200 are needed"


def test_a_shifted_window_drifts_and_names_the_feature(checker: DriftChecker, registry: Registry) -> None:
    """Live incomes far above the training ones: dataset drift with income among the drifted features."""
    checker.settings.monitoring.drift_share = 0.2
    log_predictions(registry, make_loans(600, seed=12, income_shift=40))
    result = checker.run()
    summary = result.to_dict()
    assert (result.outcome, summary["dataset_drift"]) == ("drift", True)
    assert "income" in summary["drifted_features"] and summary["rows"] == 600
    assert registry.get(1).hashes["reference.parquet"] == summary["reference_sha256"]
    assert summary["quality"]["out_of_range_share"]["income"] > 0.1


def test_the_window_is_the_latest_rows_of_the_production_version(checker: DriftChecker, registry: Registry) -> None:
    """Old shifted rows outside window_rows do not count; a quiet window is ok."""
    log_predictions(registry, make_loans(800, seed=13, income_shift=40))
    log_predictions(registry, make_loans(1000, seed=14))
    result = checker.run()
    assert (result.outcome, result.window.rows) == ("ok", 1000)
    assert "income" not in result.drift.drifted_features  # type: ignore[union-attr]


def test_live_performance_and_quality_come_from_the_window(checker: DriftChecker, registry: Registry) -> None:
    """Labels sent as feedback give the live metric; unseen categories and missing values are measured."""
    rows = make_loans(400, seed=15)
    rows.loc[:99, "region"] = "atlantis"
    rows.loc[:199, "debt_ratio"] = None
    log_predictions(registry, rows.iloc[:300], labels=rows["default"].iloc[:300])
    log_predictions(registry, rows.iloc[300:])
    result = checker.run()
    assert result.window.labelled_rows == 300 and 0.5 < (result.live_metric or 0) <= 1.0
    assert result.quality.unseen_share["region"] == 0.25
    assert 0.5 <= result.quality.missing_share["debt_ratio"] <= 0.6


def test_a_checker_that_reuses_decoded_rows_reports_what_a_fresh_one_does(
    checker: DriftChecker, settings: Settings, registry: Registry
) -> None:
    """Checks in a row keep the rows they decoded; as the window slides into shifted traffic with late labels, each
    result matches that of a checker reading everything anew."""
    rows = make_loans(1200, seed=16, income_shift=40)
    log_predictions(registry, make_loans(1000, seed=17))
    assert checker.run().outcome == "ok"
    log_predictions(registry, rows.iloc[:400], labels=rows["default"].iloc[:400])
    again = checker.run().to_dict()
    fresh = DriftChecker(settings, registry).run().to_dict()
    assert again["drifted_features"] == fresh["drifted_features"] and "income" in again["drifted_features"]
    for key in ("features", "drift_share", "quality", "rows", "labelled_rows", "live_performance", "window"):
        assert again[key] == fresh[key], key


def test_a_sample_cache_builds_only_new_rows_and_gives_the_frame_a_plain_read_gives(
    registry: Registry, trained: TrainingOutcome
) -> None:
    """Rows a cache holds are not read again; its frame equals `to_frame` of a plain read, with late labels, also
    when the rows new to it all lack a prediction value."""
    store, schema = registry.store, registry.production().schema
    earlier = log_predictions(registry, make_loans(600, seed=18))
    cache, fetched = SampleCache(), []
    window_sample = store.window_sample

    def counting(**kwargs: Any) -> Any:
        picked, payloads = window_sample(**kwargs)
        if "known" in kwargs:  # the cache's reads, not the plain ones
            fetched.append(len(payloads))
        return picked, payloads

    store.window_sample = counting  # type: ignore[method-assign]

    def compared() -> pd.DataFrame:
        first, last, _ = store.window_ids(version=1, rows=600)
        window: dict[str, Any] = {"version": 1, "first": first, "last": last, "limit": 300}
        cached = cache.sample(store, schema, **window)
        pd.testing.assert_frame_equal(cached, to_frame(store.window_rows(**window), schema))
        return cached

    assert compared()["__label__"].isna().all() and fetched == [300]
    store.record_feedback({request_id: 1 for request_id in earlier})  # late labels for rows the cache holds
    features = make_loans(200, seed=19)[list(schema.features)].astype(object)
    store.insert_predictions(  # no probability logged: the new rows' prediction column is all missing
        [
            {"request_id": f"bare{i}", "created_at": 1.0, "model_version": 1, "output": {}, "latency_ms": 1.0}
            | {"features": {k: None if pd.isna(v) else v for k, v in row.items()}}
            for i, row in enumerate(features.to_dict("records"))
        ]
    )
    moved = compared()
    assert 150 < 300 - fetched[-1] < 300  # most of the sample came from the cache
    assert moved["__label__"].notna().sum() == 300 - fetched[-1] and moved[PREDICTION_COLUMN].isna().any()
