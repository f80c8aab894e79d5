"""When drift should trigger a retrain: K drifted windows in a row, the back-off passed, enough labels.

Which checks count as drifted windows is the `retrain.trigger` policy (`counted_outcome`): dataset drift by the
share of drifted features, importance-weighted drift, the label-free performance estimate below its threshold, or
any of them. Each policy is one entry of its signals.

A label-free policy fires without labels; when the retrain it started had too few labelled rows to compare on, the
trigger stays armed (`await_labels`) and fires again once `min_labeled_rows` labels are in, without counting
`consecutive_windows` afresh, unless a check without drift disarms it first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from driftline.core import RetrainBackoff, RetrainSettings, TriggerPolicy
from monitoring import CheckResult
from retrain.performance_trigger import estimated_performance_drop


def counted_outcome(result: CheckResult, policy: TriggerPolicy) -> str:
    """How a check counts towards a retrain under `policy`: "drift", "ok" (resets the count) or "skipped"
    (neither: nothing was compared)."""
    drift = result.drift
    if drift is None:
        return "skipped"
    signals: dict[str, bool] = {
        "drift_share": drift.dataset_drift,
        "weighted_drift": drift.weighted is not None and drift.weighted.drifted,
        "estimated_performance": estimated_performance_drop(result),
    }
    drifted = any(signals.values()) if policy == "any" else signals[policy]
    return "drift" if drifted else "ok"


@dataclass
class RetrainTrigger:
    """Counts consecutive drifted checks; the wait since the last retrain comes from the store's history (see
    `driftline.core.backoff`), so restarts keep it."""

    settings: RetrainSettings
    consecutive: int = 0
    waiting: bool = False  # armed by a retrain that waits for labels

    def observe(
        self,
        outcome: str,
        labelled_rows: int,
        backoff: RetrainBackoff | None,
        now: float | None = None,
        *,
        needs_labels: bool = True,
    ) -> str | None:
        """Feed one check's outcome; returns why a retrain should run now, or None. A back-off of None (the
        history could not be read) holds the retrain back; `needs_labels=False` (a label-free policy) skips the
        `min_labeled_rows` gate, unless the retrain it started is waiting for labels."""
        if outcome == "drift":
            self.consecutive += 1
        elif outcome == "ok":
            self.consecutive = 0
            self.waiting = False
        if self.consecutive < self.settings.consecutive_windows:
            return None
        if backoff is None or not backoff.allows(time.time() if now is None else now):
            return None
        if (needs_labels or self.waiting) and labelled_rows < self.settings.min_labeled_rows:
            return None
        self.consecutive = 0
        if self.waiting:
            self.waiting = False
            return f"drift in {self.settings.consecutive_windows} consecutive windows; the labels it waited for are in"
        return f"drift in {self.settings.consecutive_windows} consecutive windows"

    def await_labels(self) -> None:
        """Stay armed after a retrain that found too few labels: fire again once they are in."""
        self.consecutive = self.settings.consecutive_windows
        self.waiting = True
