from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from driftline.service.batcher import MicroBatcher


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
