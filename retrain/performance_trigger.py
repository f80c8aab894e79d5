"""The `estimated_performance` trigger policy: a check counts towards a retrain when the production model's
label-free estimate is worse than its threshold, so a retrain can start before any label of the window arrives.

The policy looks only at the estimate: a window that could not be estimated (too few rows, a multiclass model, a
metric CBPE and DLE do not define, a version trained without a performance reference) never counts.
"""

from __future__ import annotations

from typing import Final

from monitoring import CheckResult

ESTIMATED_PERFORMANCE: Final = "estimated_performance"  # the `retrain.trigger` value that selects this policy


def estimated_performance_drop(check: CheckResult) -> bool:
    """Whether the check's estimate of the production model's metric is worse than its threshold."""
    estimate = check.estimated
    return estimate is not None and estimate.value is not None and estimate.alert


def estimated_drop_reason(check: CheckResult) -> str:
    """How a retrain started by this policy explains itself in its run record."""
    estimate = check.estimated
    if estimate is None or estimate.value is None:
        return "estimated performance: no estimate"
    threshold = estimate.threshold if estimate.threshold is not None else float("nan")
    return (
        f"estimated {estimate.metric} {estimate.value:.4f} is worse than its threshold {threshold:.4f} "
        f"({estimate.rows} rows, {check.window.labelled_rows} labelled)"
    )
