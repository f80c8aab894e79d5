from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.core import PREDICTION_COLUMN, FeatureSchema
from monitoring import compare
from tests.factories import make_loans

SCHEMA = FeatureSchema(("income", "age", "debt_ratio"), ("purpose", "region"), "default", "classification", (0, 1))


def frame(rows: int, seed: int, income_shift: float = 0.0) -> pd.DataFrame:
    data = SCHEMA.coerce(make_loans(rows, seed=seed, income_shift=income_shift))
    data[PREDICTION_COLUMN] = np.random.default_rng(seed).random(rows)
    return data


@pytest.mark.parametrize("reference_rows", [800, 20_000])
def test_a_shifted_feature_is_flagged_and_the_others_are_not(reference_rows: int) -> None:
    """Income moved by two standard deviations drifts; age, debt ratio and the categories do not."""
    result = compare(frame(reference_rows, 1), frame(800, 2, income_shift=30), SCHEMA, drift_share=0.5)
    assert result.drifted_features == ["income"]
    assert result.drift_share == 0.2 and not result.dataset_drift
    income = next(f for f in result.features if f.feature == "income")
    expected_direction = "p_value" if reference_rows <= 1000 else "distance"
    assert expected_direction == income.direction
    assert (income.score < income.threshold) == (expected_direction == "p_value")


def test_a_large_same_distribution_window_raises_no_drift() -> None:
    """100,000 live rows from the reference's distribution: sampling and distances keep every feature quiet."""
    result = compare(frame(300_000, 3), frame(100_000, 4), SCHEMA, drift_share=0.3, sample_rows=5000)
    assert result.drifted_features == [] and not result.dataset_drift
    assert (result.rows_current, result.rows_reference) == (5000, 5000)
    assert result.prediction is not None and not result.prediction.drifted


def test_unusable_columns_are_reported_not_fatal() -> None:
    """An all-missing column and text in a numeric column are left out with a reason; the rest is compared."""
    current = frame(600, 5)
    current["debt_ratio"] = np.nan
    current["age"] = current["age"].astype(str)
    result = compare(frame(600, 6), current, SCHEMA, drift_share=0.3)
    assert result.insufficient == {
        "debt_ratio": "no values in the window (all missing)",
        "age": "non-numeric values in a numeric feature",
    }
    assert [f.feature for f in result.features] == ["income", "purpose", "region"]


def test_an_empty_window_is_an_error_naming_it() -> None:
    """Evidently aborts on 0 rows; compare says why first."""
    with pytest.raises(ValueError, match="no rows"):
        compare(frame(100, 7), frame(100, 8).iloc[:0], SCHEMA, drift_share=0.3)


def test_a_configured_stat_test_is_used_for_every_column() -> None:
    """stat_test=psi applies to numeric and categorical columns alike, as a distance."""
    result = compare(frame(2000, 9), frame(2000, 10, income_shift=30), SCHEMA, drift_share=0.3, stat_test="psi")
    assert {"psi"} == {f.test for f in result.features}
    assert {"distance"} == {f.direction for f in result.features}
    assert "income" in result.drifted_features


@pytest.mark.parametrize(("rows", "stat_test"), [(800, "auto"), (20_000, "auto"), (3000, "psi")])
def test_the_numbers_are_those_of_evidently_value_drift_metrics(rows: int, stat_test: str) -> None:
    """compare() runs Evidently's tests without its report; a Report of ValueDrift metrics on the same samples
    gives the same test, score, threshold and verdict for every column, the prediction included."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    result = compare(frame(rows, 11), frame(rows, 12, income_shift=20), SCHEMA, drift_share=0.3, stat_test=stat_test)
    compared = result.compared
    definition = DataDefinition(
        numerical_columns=[*compared.numeric, PREDICTION_COLUMN], categorical_columns=compared.categorical
    )
    columns = [*compared.numeric, *compared.categorical, PREDICTION_COLUMN]
    snapshot = Report([ValueDrift(column=c, method=compared.method) for c in columns], include_tests=True).run(
        current_data=Dataset.from_pandas(compared.current, data_definition=definition),
        reference_data=Dataset.from_pandas(compared.reference, data_definition=definition),
    )
    raw = snapshot.dict()
    failed = {t["metric_config"]["metric_id"]: t["status"] == "FAIL" for t in raw["tests"]}
    expected = {
        m["config"]["column"]: (str(m["config"]["method"]), m["value"], m["config"]["threshold"], failed[m["id"]])
        for m in raw["metrics"]
    }
    ours = {f.feature: (f.test, f.score, f.threshold, f.drifted) for f in [*result.features, result.prediction] if f}
    assert expected == ours
    assert any(drifted for *_, drifted in ours.values())


def test_the_html_report_renders_from_the_kept_samples(tmp_path: Path) -> None:
    result = compare(frame(900, 13), frame(900, 14, income_shift=30), SCHEMA, drift_share=0.3)
    result.save_html(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert all(name in page for name in SCHEMA.features)


def test_infinite_and_missing_values_are_left_out_of_a_column_test() -> None:
    """A column's test sees its finite values only: infinities and gaps added to the window leave its score as is."""
    reference, current = frame(1500, 31), frame(600, 32, income_shift=10)
    extra = current.iloc[:90].copy()
    extra["income"] = [np.inf, -np.inf, np.nan] * 30
    widened = pd.concat([current, extra], ignore_index=True)
    score = {f.feature: f.score for f in compare(reference, current, SCHEMA, drift_share=0.5).features}
    widened_score = {f.feature: f.score for f in compare(reference, widened, SCHEMA, drift_share=0.5).features}
    assert np.isfinite(widened_score["income"]) and widened_score["income"] == score["income"]
    assert widened_score["age"] != score["age"]  # the other columns did get the added rows
