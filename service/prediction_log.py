"""Writes prediction records to the store in the background, in batches, without ever blocking a request.

A request only puts a chunk of records on a queue bounded in rows. One thread drains it, writing up to
`batch_size` records per transaction at least every `flush_seconds`. When the queue is full the records are
dropped and counted at once (never raised to the request). When the store refuses a batch, the writer tries it
again with a doubling pause for up to `retry_seconds` (a restarting database loses nothing); meanwhile requests
keep queueing, within the same row bound. Only then is the batch dropped and counted. Each drop is one log line
naming the count and the reason; the store going away and coming back are one line each. `close()` flushes what
is queued (without retries, so shutdown stays bounded). Chunks are turned into row dicts on the writer thread, so
a 200,000-row upload costs its request almost nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

_STOP = object()
FIRST_RETRY_SECONDS = 0.05
LONGEST_RETRY_PAUSE_SECONDS = 1.0


class RecordChunk(Protocol):
    """Some prediction records, materialised only when written."""

    def __len__(self) -> int: ...

    def records(self) -> Sequence[Mapping[str, Any]]: ...


class ListChunk:
    """Records that already are dicts."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> Sequence[Mapping[str, Any]]:
        return list(self._records)


class PredictionLog:
    """A queue of record chunks bounded in rows, and the thread that writes them with `write_batch`."""

    def __init__(
        self,
        write_batch: Callable[[Sequence[Mapping[str, Any]]], None],
        *,
        max_pending_rows: int = 100_000,
        batch_size: int = 1000,
        flush_seconds: float = 0.5,
        retry_seconds: float = 0.0,
        on_drop: Callable[[int, str], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._write_batch = write_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._max_pending = max_pending_rows
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._retry_seconds = retry_seconds
        self._failing_since: float | None = None
        self._stopped = threading.Event()
        self.on_drop = on_drop
        self.on_depth = on_depth
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Records queued and not yet written."""
        return self._pending

    def submit(self, chunk: RecordChunk) -> bool:
        """Queue a chunk for writing; False (and counted as dropped) when it does not fit or the log is closed."""
        size = len(chunk)
        with self._lock:
            fits = not self._closed and self._pending + size <= self._max_pending
            if fits:
                self._pending += size
        if not fits:
            self._count_dropped(size, "log closed" if self._closed else "queue full")
            return False
        self._queue.put(chunk)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopped.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _count_dropped(self, count: int, reason: str) -> None:
        with self._lock:
            self.dropped += count
        # the values are in the message too: BentoML's log format shows the message, not the extra fields
        log.warning(
            "prediction records dropped: count=%d reason=%r", count, reason, extra={"count": count, "reason": reason}
        )
        if self.on_drop is not None:
            self.on_drop(count, reason)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            chunks: list[RecordChunk] = []
            rows = 0
            deadline = time.monotonic() + self._flush_seconds
            while rows < self._batch_size:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                chunks.append(item)
                rows += len(item)
            if chunks:
                try:
                    self._write(chunks)
                except Exception:  # a bug here must not end the thread: every later record would be lost unseen
                    log.exception("prediction log writer error")
        # after the stop sentinel nothing more is accepted; anything queued before it was already taken

    def _write(self, chunks: list[RecordChunk]) -> None:
        rows = sum(len(chunk) for chunk in chunks)
        try:
            records: list[Mapping[str, Any]] = []
            for chunk in chunks:
                try:
                    records += chunk.records()
                except Exception as exc:  # one unconvertible chunk costs its own records, not the batch
                    log.error("prediction records not convertible: %s", exc, extra={"error": str(exc)})
                    self._count_dropped(len(chunk), "conversion failed")
            for start in range(0, len(records), self._batch_size):
                part = records[start : start + self._batch_size]
                if self._write_with_retries(part):
                    with self._lock:
                        self.written += len(part)
                else:
                    self._count_dropped(len(part), "store write failed")
        finally:
            with self._lock:
                self._pending -= rows
            if self.on_depth is not None:
                self.on_depth(self._pending)

    def _write_with_retries(self, part: Sequence[Mapping[str, Any]]) -> bool:
        """Write one batch, trying again for up to `retry_seconds` (not once closing); True when it was written."""
        give_up = time.monotonic() + self._retry_seconds
        pause = FIRST_RETRY_SECONDS
        while True:
            try:
                self._write_batch(part)
            except Exception as exc:  # the store being away must never reach a request
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                    log.error("prediction store unavailable: %s", error, extra={"error": error})
                remaining = give_up - time.monotonic()
                if self._stopped.is_set() or remaining <= 0:
                    return False
                self._stopped.wait(min(pause, remaining))
                pause = min(pause * 2, LONGEST_RETRY_PAUSE_SECONDS)
            else:
                if self._failing_since is not None:
                    seconds = time.monotonic() - self._failing_since
                    self._failing_since = None
                    log.warning("prediction store available again after %.1f s", seconds, extra={"seconds": seconds})
                return True
