from __future__ import annotations

import numpy as np

from driftline.core import jsonable


def test_jsonable_makes_numpy_values_plain_and_nan_null() -> None:
    """Nested numpy scalars become Python values, NaN becomes None, and unknown objects their repr."""
    value = {"a": np.float64(0.5), 1: [np.int64(3), float("nan")], "b": (np.bool_(True), object)}
    assert {"a": 0.5, "1": [3, None], "b": [True, repr(object)]} == jsonable(value)
