"""Predicts with the shadow on a thread of its own, after the champion has answered.

Predicting both models in the request's call doubled the model work on the request path: at 16 connections a
shadow halved /predict throughput and nearly doubled p99 (`bench/shadow.py`). Here the champion answers alone; the
rows and request ids go to a bounded queue, and one niced thread predicts them with the shadow, coalescing queued
requests into one call as the micro-batcher does. Niceness alone did not keep the cost off the request path: the
shadow thread holds the worker's GIL while it predicts, whatever its priority. So the thread predicts only on
spare capacity: it waits until no request has been answered for `IDLE_SECONDS`, the sign that the request path is
idle, and meanwhile rows queue up. When the queue is full the rows are not shadowed (counted): a busy worker's
shadow compares on fewer requests instead of slowing the champion's, and a worker saturated without a break
shadows none. Those it compares on are still exactly the requests whose champion answers and labels are logged.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from driftline.core import log_event
from service.prediction_log import ListChunk, PredictionLog
from service.shadow import LoadedShadow, ShadowModel

log = logging.getLogger(__name__)

SHADOW_NICENESS = 10  # below the request threads: the shadow gets the CPU they leave
# A worker at 16 connections answers a request every millisecond or two; a client pausing between calls leaves
# gaps of tens of milliseconds. 5 ms lies between: the shadow waits out bursts and runs in the pauses.
IDLE_SECONDS = 0.005


class _Queued(NamedTuple):
    shadow: LoadedShadow
    rows: Sequence[Mapping[str, Any]]
    request_ids: list[str]
    created_at: float


class ShadowRunner:
    """A bounded queue of answered requests and the thread that predicts them with their shadow and logs it."""

    def __init__(
        self, shadow: ShadowModel, outputs_log: PredictionLog, *, max_pending_rows: int, max_rows: int
    ) -> None:
        self._shadow = shadow
        self._log = outputs_log
        self._max_pending = max_pending_rows
        self._max_rows = max_rows
        self._queue: collections.deque[_Queued] = collections.deque()
        self._pending = 0
        self._answered_at = 0.0  # monotonic time of the latest answered request this runner was given
        self._ready = threading.Condition()
        self._closed = False
        self.on_shadowed: list[Callable[[int], None]] = []  # rows predicted by the shadow
        self.on_skipped: list[Callable[[int], None]] = []  # rows left unshadowed: the queue was full
        self._thread = threading.Thread(target=self._run, name="shadow-predict", daemon=True)
        self._thread.start()

    def submit(
        self, shadow: LoadedShadow, rows: Sequence[Mapping[str, Any]], request_ids: list[str], at: float
    ) -> None:
        """Queue answered rows for the shadow; rows beyond the queue's bound are skipped and counted."""
        with self._ready:
            self._answered_at = time.monotonic()
            fits = not self._closed and self._pending + len(rows) <= self._max_pending
            if fits:
                if not self._queue:  # with rows queued the thread wakes by itself once the path is idle
                    self._ready.notify()
                self._queue.append(_Queued(shadow, rows, request_ids, at))
                self._pending += len(rows)
        if not fits:
            for hook in self.on_skipped:
                hook(len(rows))

    def _take(self) -> list[_Queued] | None:
        """The next coalesced requests once the request path is idle (at once when closing); None when closed."""
        with self._ready:
            while not self._closed:
                busy_for = self._answered_at + IDLE_SECONDS - time.monotonic()
                if self._queue and busy_for <= 0:
                    break
                # without a queue, until a submit; with one, until the latest answer is IDLE_SECONDS old
                self._ready.wait(busy_for if self._queue else None)
            if not self._queue:
                return None
            taken = [self._queue.popleft()]
            size = len(taken[0].rows)
            while (
                self._queue
                and self._queue[0].shadow.shadow_id == taken[0].shadow.shadow_id
                and size + len(self._queue[0].rows) <= self._max_rows
            ):
                taken.append(self._queue.popleft())
                size += len(taken[-1].rows)
            self._pending -= size
            return taken

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # per-thread niceness is Linux's; elsewhere it runs as is
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SHADOW_NICENESS)
        while (taken := self._take()) is not None:
            try:
                self._predict(taken)
            except Exception as exc:  # never end the thread: the next shadow needs it
                log_event(log, logging.ERROR, "shadow predictions not logged", error=type(exc).__name__)

    def _predict(self, taken: list[_Queued]) -> None:
        shadow = taken[0].shadow
        current = self._shadow.current
        if current is None or current.shadow_id != shadow.shadow_id:
            return  # the shadow ended or failed meanwhile
        rows = [row for item in taken for row in item.rows]
        try:
            outputs = shadow.model.predict_rows(rows)
            if len(outputs) != len(rows):
                raise ValueError(f"{len(outputs)} outputs for {len(rows)} rows")
        except Exception as exc:  # the shadow's failure is its own: the champion's answers have gone out already
            # the type only: an exception's text may quote a request's values
            self._shadow.failed(shadow.shadow_id, "predict", type(exc).__name__)
            return
        records: list[dict[str, Any]] = []
        start = 0
        for item in taken:
            for rid, output in zip(item.request_ids, outputs[start : start + len(item.rows)], strict=True):
                records.append(
                    {"request_id": rid, "shadow_id": shadow.shadow_id, "created_at": item.created_at, "output": output}
                )
            start += len(item.rows)
        self._log.submit(ListChunk(records))
        for hook in self.on_shadowed:
            hook(len(records))

    def close(self) -> None:
        """Predict what is queued, then end the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._thread.join(timeout=10)
