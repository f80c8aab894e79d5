"""When drift should trigger a retrain: K drifted windows in a row, the back-off passed, enough labels."""

from __future__ import annotations

import time
from dataclasses import dataclass

from driftline.core import RetrainBackoff, RetrainSettings


@dataclass
class RetrainTrigger:
    """Counts consecutive drifted checks; the wait since the last retrain comes from the store's history (see
    `driftline.core.backoff`), so restarts keep it."""

    settings: RetrainSettings
    consecutive: int = 0

    def observe(
        self, outcome: str, labelled_rows: int, backoff: RetrainBackoff | None, now: float | None = None
    ) -> str | None:
        """Feed one check's outcome; returns why a retrain should run now, or None. A back-off of None (the
        history could not be read) holds the retrain back."""
        if outcome == "drift":
            self.consecutive += 1
        elif outcome == "ok":
            self.consecutive = 0
        if self.consecutive < self.settings.consecutive_windows:
            return None
        if backoff is None or not backoff.allows(time.time() if now is None else now):
            return None
        if labelled_rows < self.settings.min_labeled_rows:
            return None
        self.consecutive = 0
        return f"drift in {self.settings.consecutive_windows} consecutive windows"
