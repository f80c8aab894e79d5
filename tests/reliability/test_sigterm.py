"""SIGTERM to `bentoml serve` (what an orchestrator sends to the container's first process) while clients call it.

Requests already sent when the signal arrives finish with a 200; every prediction answered with a 200, before or
during the shutdown, is a row of the predictions table once the process has exited. Requests sent after the signal
either still get a 200 or fail at the connection level: refused once the listener is closed, or cut when the
server closes an idle keep-alive connection they were just written to (the usual keep-alive race, which only a
client retry covers). None of them gets an HTTP error answer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import pytest

from tests.processes import Served, wait_for
from tests.reliability.load import Load, answered_ids

pytestmark = pytest.mark.integration


def test_sigterm_under_load_finishes_accepted_requests_and_logs_every_answer(
    service_factory: Callable[..., Served],
) -> None:
    """Under 6 clients, SIGTERM to the serve process: requests sent before it all succeed and all answers are logged."""
    service = service_factory(workers=2, serving__log_flush_seconds=1.0)
    with Load(service.url, threads=6) as load:
        wait_for("answers before the signal", lambda: load.ok_since(0) >= 200, 30)
        os.kill(service.process.pid, signal.SIGTERM)
        signalled = time.monotonic()
        code = service.process.wait(timeout=60)
        exited = time.monotonic()
        time.sleep(0.5)  # let the clients see the closed port
    outcomes = load.snapshot()
    before = [o for o in outcomes if o.sent < signalled]
    after = [o for o in outcomes if o.sent >= signalled]
    failed_after = [o for o in after if o.status != 200]
    answered = answered_ids(outcomes)
    logged = service.logged(answered)
    assert [] == [(o.status, o.error) for o in before if o.status != 200]
    assert len(answered) == len(logged)
    assert all(o.status is None for o in failed_after), {o.error for o in failed_after}
    assert 0 == code and exited - signalled < 30
    kinds = sorted({o.error.split(":")[0] for o in failed_after})
    print(
        f"requests={len(outcomes)} sent_before_signal={len(before)} "
        f"in_flight_at_signal={sum(1 for o in before if o.done >= signalled)} "
        f"answered_after_signal={sum(1 for o in after if o.status == 200)} "
        f"failed_after_signal={len(failed_after)} {kinds} "
        f"exit_seconds={exited - signalled:.2f} records_answered={len(answered)} lost={len(answered) - len(logged)}"
    )
