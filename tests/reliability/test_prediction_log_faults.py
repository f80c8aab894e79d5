"""The prediction log under faults, on a fake store: retries bounded in time and never in a request's way, and a
writer thread that outlives whatever a batch throws at it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from service.prediction_log import ListChunk, PredictionLog


def records(count: int, start: int = 0) -> ListChunk:
    return ListChunk([{"request_id": f"r{i}"} for i in range(start, start + count)])


class FlakyStore:
    """Refuses writes until `heal()`; keeps what it accepted."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.down.set()
        self.attempts = 0
        self.rows: list[str] = []

    def write(self, batch: Sequence[Mapping[str, Any]]) -> None:
        self.attempts += 1
        if self.down.is_set():
            raise ConnectionError("connection refused\nsecond line with details")
        self.rows += [r["request_id"] for r in batch]

    def heal(self) -> None:
        self.down.clear()


def test_a_store_back_within_the_retry_window_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A batch refused for 0.4 s is written by a retry; the outage and the recovery are one log line each."""
    store = FlakyStore()
    log = PredictionLog(store.write, batch_size=100, flush_seconds=0.01, retry_seconds=2.0)
    with caplog.at_level(logging.INFO, logger="service.prediction_log"):
        log.submit(records(10))
        time.sleep(0.4)
        store.heal()
        time.sleep(0.6)
        log.close()
    assert (10, 0) == (log.written, log.dropped)
    assert [f"r{i}" for i in range(10)] == store.rows
    assert store.attempts >= 3
    messages = [r.getMessage() for r in caplog.records]
    assert ["prediction store unavailable: ConnectionError: connection refused"] == [
        m for m in messages if "unavailable" in m
    ]
    assert 1 == sum("available again after" in m for m in messages)


def test_a_longer_outage_drops_after_the_window_and_counts_it_by_reason() -> None:
    """Past `retry_seconds` the batch is dropped and counted; records queued meanwhile are written once it is back."""
    store = FlakyStore()
    dropped: list[tuple[int, str]] = []
    log = PredictionLog(
        store.write,
        batch_size=100,
        flush_seconds=0.01,
        retry_seconds=0.5,
        on_drop=lambda n, why: dropped.append((n, why)),
    )
    started = time.monotonic()
    log.submit(records(10))
    time.sleep(0.1)  # the writer has taken those 10 and is retrying them
    queued, slowest = 0, 0.0
    while not dropped and time.monotonic() - started < 5:
        before = time.monotonic()
        log.submit(records(1, 100 + queued))
        slowest = max(slowest, time.monotonic() - before)
        queued += 1
        time.sleep(0.05)
    gave_up = time.monotonic() - started
    store.heal()
    log.close()
    assert [(10, "store write failed")] == dropped
    assert 0.45 < gave_up < 1.5
    assert slowest < 0.05
    assert (queued, 10) == (log.written, log.dropped)
    assert [f"r{100 + i}" for i in range(queued)] == store.rows


def test_the_queue_bound_holds_while_a_batch_is_retried() -> None:
    """While the writer retries, submissions beyond `max_pending_rows` are refused at once: memory stays bounded."""
    store = FlakyStore()
    log = PredictionLog(store.write, max_pending_rows=50, batch_size=10, flush_seconds=0.01, retry_seconds=5.0)
    assert log.submit(records(10))
    time.sleep(0.1)  # the writer holds those 10 and is retrying them
    assert log.submit(records(40, 10))
    assert not log.submit(records(1, 50))
    assert 50 == log.depth and 1 == log.dropped
    store.heal()
    log.close()
    assert 50 == log.written


def test_close_does_not_retry_so_shutdown_stays_bounded() -> None:
    """With the store down, close() gives up on queued records at once instead of retrying each batch."""
    store = FlakyStore()
    log = PredictionLog(store.write, batch_size=10, flush_seconds=60.0, retry_seconds=30.0)
    for i in range(5):
        log.submit(records(10, i * 10))
    started = time.monotonic()
    log.close()
    assert time.monotonic() - started < 2.0
    assert (0, 50) == (log.written, log.dropped)


class Unconvertible:
    """A chunk whose records cannot be built."""

    def __len__(self) -> int:
        return 4

    def records(self) -> list[Mapping[str, Any]]:
        raise ValueError("cannot turn this table into records")


def test_an_unconvertible_chunk_costs_only_its_own_records() -> None:
    """A chunk that fails to convert is counted as dropped; the chunks batched with it and after it are written."""
    written: list[str] = []
    dropped: list[tuple[int, str]] = []
    log = PredictionLog(
        lambda batch: written.extend(r["request_id"] for r in batch),
        batch_size=100,
        flush_seconds=0.2,
        on_drop=lambda n, why: dropped.append((n, why)),
    )
    log.submit(records(3))
    log.submit(Unconvertible())
    log.submit(records(2, 3))
    time.sleep(0.4)
    log.submit(records(1, 5))
    log.close()
    assert [(4, "conversion failed")] == dropped
    assert [f"r{i}" for i in range(6)] == written
    assert (6, 4, 0) == (log.written, log.dropped, log.depth)


def test_the_writer_outlives_an_error_in_its_own_callbacks() -> None:
    """An exception from the depth callback does not stop the thread: later records are still written."""
    written: list[str] = []
    calls = {"n": 0}

    def broken_gauge(depth: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("metrics backend is away")

    log = PredictionLog(
        lambda batch: written.extend(r["request_id"] for r in batch),
        flush_seconds=0.05,
        on_depth=broken_gauge,
    )
    log.submit(records(2))
    time.sleep(0.3)
    log.submit(records(2, 2))
    log.close()
    assert ["r0", "r1", "r2", "r3"] == written
