"""The shadow's thread predicts only on spare capacity: it waits while requests keep being answered, predicts
once the request path is idle, and skips (counts) what does not fit its queue meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from service import shadow_runner
from service.prediction_log import RecordChunk
from service.shadow import LoadedShadow
from service.shadow_runner import ShadowRunner
from tests.processes import wait_for


class EchoModel:
    """A model whose output names the row, so logged outputs can be told apart."""

    version = 2

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{"prediction": row["x"]} for row in rows]


class HeldShadow:
    """What the runner asks of `ShadowModel`: the shadow the worker holds now."""

    def __init__(self) -> None:
        self.current = LoadedShadow(7, "candidate", EchoModel())  # type: ignore[arg-type]  # only predict_rows is used

    def failed(self, shadow_id: int, stage: str, error: str) -> None:
        raise AssertionError(f"the shadow failed at {stage}: {error}")


class Written:
    """What the runner asks of `PredictionLog`: the chunks it would write."""

    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []

    def submit(self, chunk: RecordChunk) -> bool:
        self.records.extend(chunk.records())
        return True


@pytest.fixture
def written() -> Written:
    return Written()


@pytest.fixture
def runner(written: Written, monkeypatch: pytest.MonkeyPatch) -> Iterator[ShadowRunner]:
    monkeypatch.setattr(shadow_runner, "IDLE_SECONDS", 0.3)  # long enough to tell waiting from predicting
    shadow = HeldShadow()
    running = ShadowRunner(shadow, written, max_pending_rows=4, max_rows=64)  # type: ignore[arg-type]
    yield running
    running.close()


def submit(runner: ShadowRunner, *xs: int) -> None:
    rows = [{"x": x} for x in xs]
    held = HeldShadow().current
    runner.submit(held, rows, [f"r{x}" for x in xs], time.time())


def test_rows_wait_while_requests_keep_coming(runner: ShadowRunner, written: Written) -> None:
    """Answered requests 0.1 s apart, closer than the idle gap, leave the shadow's thread waiting."""
    for x in range(3):
        submit(runner, x)
        time.sleep(0.1)
    assert [] == written.records


def test_rows_are_shadowed_once_the_path_is_idle(runner: ShadowRunner, written: Written) -> None:
    """After the idle gap the queued requests are predicted with the shadow, in one call, under their ids."""
    submit(runner, 1, 2)
    submit(runner, 3)
    wait_for("the shadow's outputs", lambda: len(written.records) == 3, 5, every=0.05)
    assert ["r1", "r2", "r3"] == [r["request_id"] for r in written.records]


def test_rows_beyond_the_queue_are_skipped_and_counted(runner: ShadowRunner, written: Written) -> None:
    """While the path is busy, rows that would overfill the queue are not shadowed, and the runner says how many."""
    skipped: list[int] = []
    runner.on_skipped.append(skipped.append)
    submit(runner, 1, 2, 3)
    submit(runner, 4, 5)
    wait_for("the shadow's outputs", lambda: len(written.records) == 3, 5, every=0.05)
    assert ([2], ["r1", "r2", "r3"]) == (skipped, [r["request_id"] for r in written.records])
