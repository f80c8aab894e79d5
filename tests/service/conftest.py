"""A real `driftline serve` (BentoML, two workers) on 127.0.0.1 over a trained loans model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.processes import Served, serve_trained, wait_for

WORKERS = 2  # hot swaps, micro-batches and metrics are per worker: every service test runs on more than one


def serving(folder: Path, log: Path | None = None, **overrides: Any) -> AbstractContextManager[Served]:
    """`serve_trained` on WORKERS workers."""
    return serve_trained(folder, log, workers=WORKERS, **overrides)


def settled_count(served: Served) -> int:
    """The logged row count once queued records have been written (two reads 0.4 s apart agree)."""
    counts = [-1]

    def settled() -> bool:
        counts.append(served.registry.store.count_predictions())
        return counts[-1] == counts[-2]

    wait_for("the prediction log to settle", settled, 30, every=0.4)
    return counts[-1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("served")) as running:
        yield running
