from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from driftline.core import (
    DataError,
    FeatureSchema,
    InvalidInput,
    infer_schema,
)
from tests.factories import make_loans


@pytest.fixture
def schema() -> FeatureSchema:
    return FeatureSchema(("income", "age"), ("purpose",), "default", "classification")


def test_inference_splits_numbers_from_categories_and_skips_identifiers() -> None:
    """Numbers are numeric, text is categorical, the time column and id-like text are left out."""
    frame = make_loans(300)
    frame["loan_id"] = [f"L{i}" for i in range(len(frame))]
    schema = infer_schema(frame, "default", "classification", time_column="applied_at")
    assert schema.numeric == ("income", "age", "debt_ratio")
    assert schema.categorical == ("purpose", "region")


def test_listed_features_must_exist_and_exclude_the_target() -> None:
    """Configured lists are checked against the data."""
    frame = make_loans(50)
    with pytest.raises(DataError, match="not in the data: salary"):
        infer_schema(frame, "default", "classification", numeric=["salary"])
    with pytest.raises(DataError, match="also listed"):
        infer_schema(frame, "default", "classification", numeric=["default"])
    with pytest.raises(DataError, match="target column 'y'"):
        infer_schema(frame, "y", "classification")


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"income": 1.0, "purpose": "car"}, "age", "missing feature"),
        ({"income": 1.0, "age": 2.0, "purpose": "car", "zip": "x"}, "zip", "unknown feature"),
        ({"income": "high", "age": 2.0, "purpose": "car"}, "income", "expected a number"),
        ({"income": math.nan, "age": 2.0, "purpose": "car"}, "income", "finite"),
        ({"income": 1.0, "age": True, "purpose": "car"}, "age", "expected a number"),
        ({"income": 1.0, "age": 2.0, "purpose": 3}, "purpose", "expected a string"),
    ],
)
def test_check_row_names_the_bad_field(schema: FeatureSchema, row: dict, field: str, reason: str) -> None:
    """Each kind of bad row is refused with the field it concerns."""
    with pytest.raises(InvalidInput) as caught:
        schema.check_row(row, 4)
    assert (field, 4) == (caught.value.field, caught.value.row)
    assert reason in caught.value.reason


def test_frames_get_training_dtypes_with_missing_values_as_nan(schema: FeatureSchema) -> None:
    """None becomes NaN, numbers become float, categories stay strings."""
    frame = schema.frame([{"income": None, "age": 3, "purpose": None}, {"income": 2.5, "age": 4, "purpose": "car"}])
    assert [str(t) for t in frame.dtypes] == ["float64", "float64", "object"]
    missing_category = frame.loc[0, "purpose"]
    assert np.isnan(frame.loc[0, "income"]) and isinstance(missing_category, float) and math.isnan(missing_category)
    assert frame.loc[1, "purpose"] == "car"


def test_uploaded_tables_are_checked_column_by_column(schema: FeatureSchema) -> None:
    """Missing or unknown columns, text in numeric columns and infinity are refused with the column named."""
    good = pd.DataFrame({"income": [1.0], "age": [2], "purpose": [7]})
    assert schema.check_frame(good)["purpose"].iloc[0] == "7"
    with pytest.raises(InvalidInput, match="'age': missing column"):
        schema.check_frame(pd.DataFrame({"income": [1.0], "purpose": ["a"]}))
    with pytest.raises(InvalidInput, match="'extra': unknown column"):
        schema.check_frame(good.assign(extra=1))
    with pytest.raises(InvalidInput, match="row 1, field 'income': expected numbers, got 'abc'"):
        schema.check_frame(pd.DataFrame({"income": ["1", "abc"], "age": [1, 2], "purpose": ["a", "b"]}))
    with pytest.raises(InvalidInput, match="infinity"):
        schema.check_frame(pd.DataFrame({"income": [np.inf], "age": [1], "purpose": ["a"]}))


def test_uploaded_tables_have_the_same_bounds_as_json_rows(schema: FeatureSchema) -> None:
    """Numbers beyond ±1e18 and category values over 200 characters are refused with their row; the bounds pass."""
    edge = pd.DataFrame({"income": [1e18, -1e18, np.nan], "age": [1, 2, 3], "purpose": ["x" * 200, None, "a"]})
    assert 3 == len(schema.check_frame(edge))
    with pytest.raises(InvalidInput, match=r"row 2, field 'income': numbers must be within ±1e\+18"):
        schema.check_frame(edge.assign(income=[1.0, 2.0, -1e300]))
    with pytest.raises(InvalidInput, match="row 1, field 'purpose': values must be at most 200 characters"):
        schema.check_frame(edge.assign(purpose=["a", "y" * 201, None]))


def test_schema_round_trips_through_json_types(schema: FeatureSchema) -> None:
    """What the store keeps is what comes back."""
    with_classes = schema.with_classes([np.int64(0), np.int64(1)])
    assert with_classes == FeatureSchema.from_dict(with_classes.to_dict())


def test_prediction_summary_is_the_positive_probability_for_binary_and_the_prediction_otherwise(
    schema: FeatureSchema,
) -> None:
    """Prediction drift reads P(positive) of a binary classifier and the plain prediction of any other model."""
    output = {"prediction": "1", "probability": 0.8}
    binary = schema.with_classes(["0", "1"])
    three = schema.with_classes(["a", "b", "c"])
    regression = FeatureSchema(("income",), (), "amount", "regression")
    assert [0.8, "1", 12.5] == [
        binary.prediction_summary(output),
        three.prediction_summary(output),
        regression.prediction_summary({"prediction": 12.5}),
    ]
