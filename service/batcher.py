"""Coalesces the rows of concurrent requests into one model call.

A scikit-learn Pipeline costs milliseconds per call whatever the row count, so one call for sixteen one-row
requests is about sixteen times cheaper than sixteen calls. While a call runs, new requests wait; the next call
takes all of them (up to `max_rows`). A lone request is sent at once: batching adds no waiting of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Row = Any
Result = TypeVar("Result")


class MicroBatcher(Generic[Result]):
    """Runs `predict(rows) -> (per-row results, extra)` for many requests at once on one worker thread."""

    def __init__(self, predict: Callable[[list[Row]], tuple[list[Result], Any]], max_rows: int = 256) -> None:
        self._predict = predict
        self._max_rows = max_rows
        self._pending: list[tuple[Sequence[Row], asyncio.Future[tuple[list[Result], Any]]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")

    async def submit(self, rows: Sequence[Row]) -> tuple[list[Result], Any]:
        """The results for `rows`, in order, and the extra value of the call that produced them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[list[Result], Any]] = loop.create_future()
        self._pending.append((rows, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                taken: list[tuple[Sequence[Row], asyncio.Future[tuple[list[Result], Any]]]] = []
                size = 0
                while self._pending and (not taken or size + len(self._pending[0][0]) <= self._max_rows):
                    item = self._pending.pop(0)
                    taken.append(item)
                    size += len(item[0])
                rows = [row for request_rows, _ in taken for row in request_rows]
                try:
                    results, extra = await loop.run_in_executor(self._executor, self._predict, rows)
                except Exception as exc:
                    await self._one_by_one(taken, exc)
                    continue
                start = 0
                for request_rows, future in taken:
                    end = start + len(request_rows)
                    if not future.done():
                        future.set_result((results[start:end], extra))
                    start = end
        finally:
            self._running = False

    async def _one_by_one(
        self, taken: list[tuple[Sequence[Row], asyncio.Future[tuple[list[Result], Any]]]], error: Exception
    ) -> None:
        """After a failed shared call, each request alone: one request's bad rows must not fail the others."""
        if len(taken) == 1:
            if not taken[0][1].done():
                taken[0][1].set_exception(error)
            return
        loop = asyncio.get_running_loop()
        for request_rows, future in taken:
            try:
                result = await loop.run_in_executor(self._executor, self._predict, list(request_rows))
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
