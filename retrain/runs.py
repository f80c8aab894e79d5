"""Every training and retrain is a `training_runs` record: started before any work, finished exactly once.

`recorded_run` opens the record; an exception inside it finishes the record as failed with the reason and goes
on up, so each caller decides what a failure means for it (`train` raises it, `retrain` reports it as an
outcome). A run that ends well is finished by its caller with `TrainingRun.succeed`, once it knows the outcome;
one that had to wait for labels with `TrainingRun.wait`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from driftline.core import DriftlineError, Store


class TrainingRun:
    """An open training-run record: its id, what triggered it, and how long it has been going."""

    def __init__(self, store: Store, trigger: str) -> None:
        self.store = store
        self.trigger = trigger
        self.id = store.start_run(trigger)
        self.started = time.monotonic()
        self.finished = False

    def seconds(self) -> float:
        """Seconds since the run started, as stored."""
        return round(time.monotonic() - self.started, 3)

    def succeed(self, *, version: int | None, message: str, details: Mapping[str, Any]) -> None:
        """Finish the record as succeeded (a rejected candidate is a run that succeeded)."""
        self._finish(status="succeeded", version=version, message=message, details=details)

    def wait(self, *, message: str, details: Mapping[str, Any]) -> None:
        """Finish the record as waiting: it trained nothing and decided nothing until its labels arrive."""
        self._finish(status="waiting", message=message, details=details)

    def fail(self, message: str) -> None:
        """Finish the record as failed with the reason."""
        self._finish(status="failed", message=message)

    def _finish(
        self, *, status: str, version: int | None = None, message: str, details: Mapping[str, Any] | None = None
    ) -> None:
        # marked before the write: a store error while finishing must not finish the record a second time
        self.finished = True
        self.store.finish_run(self.id, status=status, version=version, message=message, details=details)


def failure_message(exc: BaseException) -> str:
    """A domain error's own message; any other exception with its type, which says more than its text alone."""
    return str(exc) if isinstance(exc, DriftlineError) else f"{type(exc).__name__}: {exc}"


@contextmanager
def recorded_run(store: Store, trigger: str) -> Iterator[TrainingRun]:
    """Start a training-run record; an exception inside finishes it as failed, once, and propagates."""
    run = TrainingRun(store, trigger)
    try:
        yield run
    except BaseException as exc:  # Ctrl-C mid-fit too: the record says why it stopped
        if not run.finished:
            run.fail(failure_message(exc))
        raise
