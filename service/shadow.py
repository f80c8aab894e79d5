"""The shadow this worker predicts beside the production model, followed in the store like the production pointer.

The monitor starts and ends shadows (`shadows` table); every worker loads the running one, hash-checked, off the
request path, and drops it when it ends. A shadow that fails to load or to predict is never allowed near the
champion's answer: this worker stops using it at once, logs it once, counts it, and the watch thread (never a
request) records the shadow as rejected, so every other worker drops it too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from driftline.core import LoadedModel, Registry, log_event
from service.polling import Poller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedShadow:
    """A running shadow as this worker holds it."""

    shadow_id: int
    purpose: str  # candidate | watch
    model: LoadedModel


class ShadowModel:
    """Holds the loaded shadow, if any; `current` is what a micro-batch predicts with beside the champion."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._current: LoadedShadow | None = None
        self._failed: dict[int, str] = {}  # shadow id -> why, until the store has it
        self._lock = threading.Lock()
        self.on_failed: list[Callable[[str], None]] = []  # called with the stage (load | predict), e.g. a counter
        self._poller = Poller("shadow-watch", self.follow, "shadow check failed")

    @property
    def current(self) -> LoadedShadow | None:
        return self._current

    def follow(self) -> bool:
        """Record this worker's failed shadows, then load the running shadow if it is new, or drop one that ended;
        True when the shadow this worker predicts with changed."""
        self._report_failures()
        row = self._registry.store.active_shadow()
        held = self._current
        if row is None or row["id"] in self._failed:
            self._current = None
            if held is not None:
                log_event(log, logging.INFO, "shadow dropped", shadow_id=held.shadow_id)
            return held is not None
        if held is not None and held.shadow_id == row["id"]:
            return False
        try:
            loaded = self._registry.load(row["version"])
        except Exception as exc:  # a shadow that cannot load is rejected; the champion goes on alone
            self.failed(row["id"], "load", f"{type(exc).__name__}: {str(exc)[:300]}")
            self._report_failures()
            return held is not None
        self._current = LoadedShadow(row["id"], row["purpose"], loaded)
        log_event(log, logging.INFO, "shadow loaded", shadow_id=row["id"], version=row["version"])
        return True

    def failed(self, shadow_id: int, stage: str, error: str) -> None:
        """Stop predicting with a shadow that raised (`error` must name no request value); logged and counted once."""
        with self._lock:
            if shadow_id in self._failed:
                return
            self._failed[shadow_id] = f"the shadow failed at {stage} in a service worker: {error}"
            if self._current is not None and self._current.shadow_id == shadow_id:
                self._current = None
        log_event(log, logging.ERROR, "shadow failed; serving the champion alone", shadow_id=shadow_id, stage=stage)
        for hook in self.on_failed:
            hook(stage)

    def _report_failures(self) -> None:
        with self._lock:
            pending = [(k, v) for k, v in self._failed.items() if v]
        for shadow_id, reason in pending:
            self._registry.store.finish_shadow(shadow_id, status="rejected", reason=reason)
            with self._lock:
                self._failed[shadow_id] = ""  # recorded; the id stays known so it is never loaded again

    def watch(self, poll_seconds: float) -> None:
        """Follow the shadow every `poll_seconds` on a daemon thread until `stop()`."""
        self._poller.start(poll_seconds)

    def stop(self) -> None:
        self._poller.stop()
