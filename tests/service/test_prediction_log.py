from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from service.prediction_log import ListChunk, PredictionLog


def records(count: int, start: int = 0) -> ListChunk:
    return ListChunk([{"request_id": f"r{i}"} for i in range(start, start + count)])


def test_records_are_written_in_batches_and_flushed_on_close() -> None:
    """Many small submissions become few writes; close() writes what is still queued."""
    batches: list[int] = []
    log = PredictionLog(lambda batch: batches.append(len(batch)), batch_size=100, flush_seconds=5.0)
    for i in range(25):
        log.submit(records(10, i * 10))
    log.close()
    assert 250 == sum(batches) == log.written
    assert len(batches) <= 4 and log.depth == 0


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    """Past the row bound, submissions are refused at once and counted by reason."""
    release = threading.Event()
    dropped: list[tuple[int, str]] = []
    log = PredictionLog(
        lambda batch: release.wait(5),
        max_pending_rows=50,
        batch_size=10,
        flush_seconds=0.01,
        on_drop=lambda n, why: dropped.append((n, why)),
    )
    assert log.submit(records(50))
    started = time.monotonic()
    assert not log.submit(records(5))
    assert time.monotonic() - started < 0.5
    release.set()
    log.close()
    assert dropped == [(5, "queue full")] and log.dropped == 5 and log.written == 50


def test_a_failing_store_loses_only_the_failed_batch_and_keeps_writing() -> None:
    """A write error is counted as dropped, never raised; later records are written."""
    written: list[Sequence[Mapping[str, Any]]] = []
    calls = {"n": 0}

    def flaky(batch: Sequence[Mapping[str, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk is away")
        written.append(batch)

    log = PredictionLog(flaky, batch_size=10, flush_seconds=0.01)
    log.submit(records(10))
    time.sleep(0.2)
    log.submit(records(10, 10))
    log.close()
    assert (log.dropped, log.written) == (10, 10)
    assert [written[0][0]["request_id"]] == ["r10"]


def test_after_close_submissions_are_counted_as_dropped() -> None:
    """Nothing is silently accepted once the writer has stopped."""
    log = PredictionLog(lambda batch: None)
    log.close()
    assert not log.submit(records(3))
    assert log.dropped == 3
