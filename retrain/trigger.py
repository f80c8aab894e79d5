"""When drift should trigger a retrain: K drifted windows in a row, the cool-down passed, enough labels.

Which checks count as drifted windows is the `retrain.trigger` policy (`counted_outcome`): dataset drift by the
share of drifted features, importance-weighted drift, or any of them. Each policy is one entry of its signals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from driftline.core import RetrainSettings, Store, TriggerPolicy
from monitoring import CheckResult

RETRAIN_TRIGGERS = ("drift", "schedule", "cli")


def counted_outcome(result: CheckResult, policy: TriggerPolicy) -> str:
    """How a check counts towards a retrain under `policy`: "drift", "ok" (resets the count) or "skipped"
    (neither: nothing was compared)."""
    drift = result.drift
    if drift is None:
        return "skipped"
    signals: dict[str, bool] = {
        "drift_share": drift.dataset_drift,
        "weighted_drift": drift.weighted is not None and drift.weighted.drifted,
    }
    drifted = any(signals.values()) if policy == "any" else signals[policy]
    return "drift" if drifted else "ok"


@dataclass
class RetrainTrigger:
    """Counts consecutive drifted checks; the last retrain time comes from the store, so restarts keep it."""

    settings: RetrainSettings
    store: Store
    consecutive: int = 0

    def observe(self, outcome: str, labelled_rows: int, now: float | None = None) -> str | None:
        """Feed one check's outcome; returns why a retrain should run now, or None."""
        if outcome == "drift":
            self.consecutive += 1
        elif outcome == "ok":
            self.consecutive = 0
        if self.consecutive < self.settings.consecutive_windows:
            return None
        now = now or time.time()
        last = self.last_retrain_at()
        if last is not None and now - last < self.settings.cooldown_seconds:
            return None
        if labelled_rows < self.settings.min_labeled_rows:
            return None
        self.consecutive = 0
        return f"drift in {self.settings.consecutive_windows} consecutive windows"

    def last_retrain_at(self) -> float | None:
        runs = [r for r in self.store.list_runs(limit=50) if r["trigger"] in RETRAIN_TRIGGERS]
        return max((r["started_at"] for r in runs), default=None)
