"""A daemon thread that runs one check every few seconds: how each worker follows the pointers in the store.

The production model and the shadow both follow a row in the store; a store hiccup must end neither watch, so a
failed check is logged and the next one runs on schedule.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from driftline.core import log_event

log = logging.getLogger(__name__)


class Poller:
    """Calls `check()` every `poll_seconds` on a daemon thread named `name`, from `start()` until `stop()`."""

    def __init__(self, name: str, check: Callable[[], object], failed: str) -> None:
        self._name = name
        self._check = check
        self._failed = failed  # the log message of a check that raised
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, poll_seconds: float) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, args=(poll_seconds,), name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self, poll_seconds: float) -> None:
        while not self._stop.wait(poll_seconds):
            try:
                self._check()
            except Exception as exc:  # a store hiccup must not end the watch
                log_event(log, logging.WARNING, self._failed, error=str(exc))
