"""DLE's nanny inputs and its estimate from per-row losses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.core import PREDICTION_COLUMN, FeatureSchema
from monitoring import dle
from retrain.performance_reference import nanny_model

SCHEMA = FeatureSchema(numeric=("size",), categorical=("colour",), target="price", task="regression")


def test_a_nanny_takes_missing_and_unseen_categories() -> None:
    """A window with a category the holdout never had, and a missing one, is still estimated."""
    holdout = pd.DataFrame(
        {"size": np.arange(40.0), "colour": ["red", "blue"] * 20, PREDICTION_COLUMN: np.arange(40.0)}
    )
    nanny = nanny_model(SCHEMA, seed=0).fit(dle.nanny_inputs(holdout, SCHEMA), np.ones(40))
    window = pd.DataFrame({"size": [1.0, None], "colour": ["green", None], PREDICTION_COLUMN: [1.0, 2.0]})
    assert 1.0 == pytest.approx(dle.estimate("mae", nanny, dle.nanny_inputs(window, SCHEMA)))


def test_the_rmse_estimate_is_the_root_of_the_mean_predicted_squared_error() -> None:
    """Per-row squared errors of 1 and 9 give an RMSE of sqrt(5)."""

    class Losses:
        def predict(self, _: pd.DataFrame) -> np.ndarray:
            return np.array([1.0, 9.0])

    assert np.sqrt(5.0) == pytest.approx(dle.estimate("rmse", Losses(), pd.DataFrame(index=range(2))))
