"""A retrain decision in the words an operator reads at a glance: the gain, its confidence bound, the margin.

`candidate 0.5749 vs champion 0.5415 (...)` under "not better than the champion" read as a contradiction: the
candidate scored higher and was rejected, because its gain was not confidently above the margin. The line says
exactly that, and the same line goes to the history, the log, `driftline retrain` and `driftline status`.

A retrain that a label-free signal started before the labels it compares on arrived decides nothing: its line says
it waits (`format_waiting`), so it reads as neither a rejection nor a failure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from driftline.core import greater_is_better


def format_verdict(
    promoted: bool,
    metric: str,
    candidate: float,
    champion: float,
    min_gain: float,
    bootstrap: Mapping[str, Any] | None = None,
    *,
    outcome: str | None = None,
) -> str:
    """`promoted: gain +0.134 roc_auc, 99 % lower bound +0.090 above 0.0` or
    `rejected: gain +0.033 roc_auc, but the 99 % lower bound -0.022 is not above the required 0.0`.

    The gain is the candidate's improvement over the champion on the holdout (positive = better, whichever way the
    metric runs); `bootstrap` is the evidence's bootstrap entry (`gain_lower_bound`, `confidence`), None when the
    bootstrap did not run; `outcome` names a passed or failed comparison otherwise (`shadow`, `rolled back`)."""
    outcome = outcome or ("promoted" if promoted else "rejected")
    if math.isnan(candidate):
        return f"{outcome}: the candidate's {metric} is undefined on the holdout"
    if math.isnan(champion):
        return f"{outcome}: the champion's {metric} is undefined on the holdout"
    sign = 1.0 if greater_is_better(metric) else -1.0
    gain = f"gain {_signed(sign * (candidate - champion))} {metric}" + ("" if sign > 0 else " (lower is better)")
    required = f"{min_gain}"
    if bootstrap is None:
        if promoted:
            return f"{outcome}: {gain}, above the required {required} (no bootstrap)"
        return f"{outcome}: {gain}, not above the required {required}"
    bound = f"{bootstrap['confidence'] * 100:g} % lower bound {_signed(bootstrap['gain_lower_bound'])}"
    if promoted:
        return f"{outcome}: {gain}, {bound} above {required}"
    return f"{outcome}: {gain}, but the {bound} is not above the required {required}"


def format_waiting(rows: int, needed: int) -> str:
    """`waiting for labels: 120 of 1000 labelled live rows; the trigger stays armed and retrains once they are in`."""
    return (
        f"waiting for labels: {rows} of {needed} labelled live rows; "
        "the trigger stays armed and retrains once they are in"
    )


def _signed(value: float) -> str:
    if math.isnan(value):
        return "undefined"
    if 0 < abs(value) < 0.001:
        return f"{value:+.1e}"
    return f"{value:+.3f}"
