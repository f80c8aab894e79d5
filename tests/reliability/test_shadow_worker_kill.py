"""A worker killed during a shadow phase: the worker BentoML starts in its place predicts with the shadow too."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from driftline.core.store import shadow_predictions
from retrain import train
from tests.processes import Served, wait_for
from tests.reliability.load import Load, answered_ids
from tests.service.conftest import start_candidate_shadow

pytestmark = pytest.mark.integration

STARTED = "Service driftline initialized"  # BentoML's line when a worker is ready


def shadowed(service: Served, request_ids: list[str]) -> set[str]:
    with service.store.engine.connect() as conn:
        query = sa.select(shadow_predictions.c.request_id).where(shadow_predictions.c.request_id.in_(request_ids))
        return set(conn.execute(query).scalars())


def prefix(request_id: str) -> str:
    """A request id's per-process part: which worker answered."""
    return request_id.split("-", 1)[0]


def test_the_replacement_of_a_killed_worker_loads_the_shadow(service_factory: Callable[..., Served]) -> None:
    """After SIGKILL to one of two workers mid-shadow, every answer of both the survivor and the new worker has the
    shadow's output logged beside it."""
    service = service_factory(workers=2, serving__poll_seconds=0.5)
    registry = service.registry
    start_candidate_shadow(registry, train(service.settings, registry, trigger="test").version.version)
    before = wait_for("two workers", lambda: service.workers() if len(service.workers()) == 2 else None, 30)
    with Load(service.url, threads=4) as load:
        wait_for("answers before the kill", lambda: load.ok_since(0) >= 50, 30)
        old_workers = {prefix(rid) for rid in answered_ids(load.snapshot())}
        os.kill(min(before), signal.SIGKILL)
        wait_for("the new worker to start serving", lambda: 3 == service.log_text().count(STARTED), 60, every=0.1)
        time.sleep(2)  # past the new worker's first look at the shadow
    # new connections, so the new worker gets its share (the old ones stay with the survivor)
    with Load(service.url, threads=8) as fresh:
        wait_for("answers from both workers", lambda: fresh.ok_since(0) >= 300, 30)
    late = answered_ids(fresh.snapshot())
    wait_for("the shadow's outputs", lambda: len(shadowed(service, late)) == len(late), 20, every=0.5)
    assert (True, set()) == (
        bool({prefix(rid) for rid in late} - old_workers),
        set(late) - shadowed(service, late),
    )
