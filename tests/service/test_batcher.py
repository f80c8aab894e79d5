from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from service.batcher import MicroBatcher


def test_concurrent_requests_share_model_calls_and_keep_their_rows() -> None:
    """Twenty concurrent requests take far fewer than twenty calls, and each gets its own rows back."""
    calls: list[int] = []

    def predict(rows: list[Any]) -> tuple[list[Any], str]:
        calls.append(len(rows))
        time.sleep(0.01)
        return [row * 10 for row in rows], "v1"

    batcher: MicroBatcher[Any] = MicroBatcher(predict, max_rows=100)

    async def run() -> list[tuple[list[Any], Any]]:
        return await asyncio.gather(*(batcher.submit([i, i + 1000]) for i in range(20)))

    results = asyncio.run(run())
    batcher.close()
    assert [([i * 10, (i + 1000) * 10], "v1") for i in range(20)] == results
    assert sum(calls) == 40 and len(calls) <= 3


def test_batches_respect_max_rows() -> None:
    """No call is larger than max_rows, unless a single request is."""
    calls: list[int] = []

    def predict(rows: list[Any]) -> tuple[list[Any], None]:
        calls.append(len(rows))
        time.sleep(0.005)
        return rows, None

    batcher: MicroBatcher[Any] = MicroBatcher(predict, max_rows=5)

    async def run() -> None:
        await asyncio.gather(*(batcher.submit([1, 2]) for _ in range(10)), batcher.submit(list(range(9))))

    asyncio.run(run())
    batcher.close()
    assert sum(calls) == 29
    assert all(size <= 5 for size in calls if size != 9)


def test_a_failing_call_fails_only_its_requests() -> None:
    """The error reaches the waiting requests; the next call works."""
    fail = threading.Event()
    fail.set()

    def predict(rows: list[Any]) -> tuple[list[Any], None]:
        if fail.is_set():
            fail.clear()
            raise ValueError("model broke")
        return rows, None

    batcher: MicroBatcher[Any] = MicroBatcher(predict)

    async def run() -> list[Any]:
        with pytest.raises(ValueError, match="model broke"):
            await batcher.submit([1])
        return (await batcher.submit([2]))[0]

    assert asyncio.run(run()) == [2]
    batcher.close()


def test_one_requests_bad_rows_do_not_fail_the_requests_batched_with_it() -> None:
    """When a shared call fails, each request is retried alone: only the one with the bad row gets the error."""
    calls: list[int] = []
    release = threading.Event()

    def predict(rows: list[Any]) -> tuple[list[Any], None]:
        calls.append(len(rows))
        release.wait(5)
        if "bad" in rows:
            raise ValueError("value too large")
        return rows, None

    batcher: MicroBatcher[Any] = MicroBatcher(predict)

    async def run() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit([0]))  # occupies the model while the others queue up
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(batcher.submit(rows)) for rows in ([1], ["bad"], [2, 3])]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(run())
    batcher.close()
    assert ([0], None) == results[0] and ([1], None) == results[1] and ([2, 3], None) == results[3]
    assert isinstance(results[2], ValueError)
    assert 4 == calls[1]  # the three queued requests did share one call first
