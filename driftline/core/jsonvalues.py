"""numpy values to plain Python, so what a model or a search produced can be written as JSON."""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def jsonable(value: Any) -> Any:
    """`value` with every nested numpy scalar made plain, NaN as None and anything unknown as its repr."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    value = plain(value)
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)
