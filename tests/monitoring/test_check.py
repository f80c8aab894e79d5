from __future__ import annotations

import pytest

from driftline.core import Registry, Settings
from driftline.monitoring import DriftChecker
from driftline.retrain import TrainingOutcome
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
