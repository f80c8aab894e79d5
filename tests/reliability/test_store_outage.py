"""The store goes away under traffic: predictions keep being answered, lost records are counted, logging resumes.
Labels sent to /feedback meanwhile get a 503 that says nothing was recorded, and are recorded when sent again.

The admin API rides out the same outage: a promotion or rollback while PostgreSQL is away answers 503, and one
stuck on a database that does not answer stalls nothing else, since store calls run off the event loop.

Two real outages: the PostgreSQL server is shut down and started again on the same port and data, and the SQLite
file is made to refuse writes. Each test accounts for every answered prediction: it is either a row of the
predictions table or counted in `driftline_prediction_log_dropped_total`.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from retrain import train
from tests.factories import feature_row, make_loans
from tests.processes import RestartablePostgres, Served, wait_for
from tests.reliability.conftest import sqlite_unwritable
from tests.reliability.load import Load, answered_ids

pytestmark = pytest.mark.integration

DROPPED = "driftline_prediction_log_dropped_total"
OUTAGE_SECONDS = 5.0
DROP_LINE = re.compile(r"prediction records dropped: count=(\d+) reason='([^']+)'")


def ride_out_outage(service: Served, outage: Callable[[], contextlib.AbstractContextManager[Any]]) -> dict[str, Any]:
    """Keep 4 clients calling through a healthy phase, the outage and the recovery; return what was measured."""
    with Load(service.url, threads=4, pause=0.01) as load:
        wait_for("answers before the outage", lambda: load.ok_since(0) >= 40, 30)
        labelled = answered_ids(load.snapshot())[0]  # logged before the outage
        with outage():
            broken = time.monotonic()
            wait_for("records dropped during the outage", lambda: service.metric(DROPPED) > 0, 30)
            feedback_during = httpx.post(f"{service.url}/feedback", json=[{"request_id": labelled, "label": 1}])
            model_during = httpx.get(f"{service.url}/model")
            time.sleep(max(0.0, broken + OUTAGE_SECONDS - time.monotonic()))
        recovered = time.monotonic()
        settled = recovered + 2.0  # pooled connections reconnect and a write retried across the outage lands

        def logged_after_recovery() -> bool:
            late = answered_ids([o for o in load.snapshot() if o.sent >= settled])
            return len(late) >= 40 and len(service.logged(late)) == len(late)

        wait_for("predictions answered after the recovery to be logged", logged_after_recovery, 40, every=0.5)
        feedback_after = httpx.post(f"{service.url}/feedback", json=[{"request_id": labelled, "label": 1}])
    wait_for("the log queue to drain", lambda: service.metric("driftline_prediction_log_queue_depth") == 0, 20)
    time.sleep(1.0)
    outcomes = load.snapshot()
    answered = answered_ids(outcomes)
    during = [o for o in outcomes if broken <= o.sent < recovered]
    return {
        "outcomes": outcomes,
        "during": during,
        "answered": answered,
        "lost": len(answered) - len(service.logged(answered)),
        "dropped": service.metric(DROPPED, reason="store write failed"),
        "log": service.log_text(),
        "feedback_during": (feedback_during.status_code, feedback_during.json()),
        "model_during": (model_during.status_code, model_during.json()),
        "feedback_after": (feedback_after.status_code, feedback_after.json()),
    }


def assert_rode_it_out(measured: dict[str, Any]) -> None:
    failed = [(o.status, o.error) for o in measured["outcomes"] if o.status != 200]
    assert [] == failed
    assert len(measured["during"]) >= 40
    assert max(o.latency for o in measured["during"]) < 2.0
    # every answered prediction is either in the table or counted as dropped, and the outage did drop some
    assert measured["lost"] > 0
    assert measured["lost"] == measured["dropped"]
    drops = DROP_LINE.findall(measured["log"])
    assert drops and {"store write failed"} == {reason for _, reason in drops}
    assert measured["lost"] == sum(int(count) for count, _ in drops)
    assert "prediction store unavailable" in measured["log"]
    assert "prediction store available again" in measured["log"]
    # a label sent during the outage gets a 503 saying nothing was recorded; sent again afterwards, it is
    status, body = measured["feedback_during"]
    assert 503 == status and "the store is unavailable" in body["error"] and "no label was recorded" in body["error"]
    assert "127.0.0.1" not in body["error"]  # the database's own error (host, port) stays in the log
    assert re.search(r"store unavailable: error='\w+: ", measured["log"])  # and it does reach the service log
    assert (200, {"recorded": 1}) == measured["feedback_after"]
    print(
        f"requests={len(measured['outcomes'])} failed=0 during_outage={len(measured['during'])} "
        f"max_latency_during={max(o.latency for o in measured['during']):.3f}s "
        f"records_answered={len(measured['answered'])} lost={measured['lost']} dropped_metric={measured['dropped']:.0f}"
    )


def test_postgresql_shut_down_and_restarted_under_traffic(
    restartable_postgres: RestartablePostgres, service_factory: Callable[..., Served]
) -> None:
    """Through a PostgreSQL restart every request gets a 200, lost records are counted, logging resumes."""
    service = service_factory(restartable_postgres.url)

    @contextlib.contextmanager
    def down() -> Any:
        restartable_postgres.stop()
        try:
            yield
        finally:
            restartable_postgres.start()

    measured = ride_out_outage(service, down)
    assert_rode_it_out(measured)
    status, body = measured["model_during"]  # /model reads the store too
    assert 503 == status and "the store is unavailable" in body["error"]


def test_sqlite_file_unwritable_under_traffic(service_factory: Callable[..., Served]) -> None:
    """While the SQLite file refuses writes every request gets a 200, lost records are counted, logging resumes."""
    service = service_factory()
    database = Path(service.settings.store.url.removeprefix("sqlite:///"))
    measured = ride_out_outage(service, lambda: sqlite_unwritable(database))
    assert_rode_it_out(measured)
    assert 200 == measured["model_during"][0]  # reads still work


ADMIN_TOKEN = "outage-admin-token-0123456789abcdef"
NOT_CONFIRMED = "the store is unavailable; the change was not confirmed; see `driftline status` before trying again"


def admin_call(service: Served, action: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return httpx.post(f"{service.url}/admin/{action}", json=body, headers=headers, timeout=60)


def test_admin_changes_answer_503_while_postgresql_is_down(
    restartable_postgres: RestartablePostgres, service_factory: Callable[..., Served]
) -> None:
    """With PostgreSQL shut down, promote and rollback answer 503 saying so, /predict still answers, and once the
    server is back a promotion goes through."""
    service = service_factory(restartable_postgres.url, serving__admin_token=ADMIN_TOKEN)
    second = train(service.settings, service.registry, trigger="test")
    row = feature_row(make_loans(3, seed=1), 0)
    restartable_postgres.stop()
    try:
        during = [
            (response.status_code, response.json()["error"])
            for response in (
                admin_call(service, "promote", {"version": second.version.version}),
                admin_call(service, "rollback", {}),
            )
        ]
        predicted = httpx.post(f"{service.url}/predict", json=row, timeout=30).status_code
    finally:
        restartable_postgres.start()

    def promoted() -> httpx.Response | None:
        response = admin_call(service, "promote", {"version": second.version.version})
        return response if response.status_code != 503 else None  # pooled connections reconnect first

    after = wait_for("the admin API to work again", promoted, 30, every=0.5)
    assert [(503, NOT_CONFIRMED), (503, NOT_CONFIRMED)] == during
    assert 200 == predicted
    assert (200, second.version.version) == (after.status_code, after.json()["model_version"])
    assert re.search(r"store unavailable: error='\w+: ", service.log_text())  # the database's error is logged


def test_an_admin_change_stuck_on_the_database_stalls_no_prediction(
    restartable_postgres: RestartablePostgres, service_factory: Callable[..., Served]
) -> None:
    """While a rollback waits on a PostgreSQL server that does not answer, /predict on the same worker keeps
    answering at once; the rollback completes when the server answers again."""
    service = service_factory(restartable_postgres.url, serving__admin_token=ADMIN_TOKEN)
    second = train(service.settings, service.registry, trigger="test")
    assert 200 == admin_call(service, "promote", {"version": second.version.version}).status_code
    rollback: list[httpx.Response] = []
    with Load(service.url, threads=2, pause=0.05) as load:
        wait_for("answers before the database stalls", lambda: load.ok_since(0) >= 10, 30)
        restartable_postgres.pause()
        try:
            waiting = threading.Thread(target=lambda: rollback.append(admin_call(service, "rollback", {})))
            waiting.start()
            time.sleep(1.0)  # the rollback is now waiting on the database
            stalled = time.monotonic()
            time.sleep(3.0)
            answered = [o for o in load.snapshot() if o.sent >= stalled and o.done <= stalled + 3.0]
            still_waiting = waiting.is_alive()
        finally:
            restartable_postgres.resume()
        waiting.join(timeout=60)
    assert still_waiting  # the rollback really was stuck on the database
    assert len(answered) >= 10
    assert [] == [o.status for o in answered if o.status != 200]
    assert max(o.latency for o in answered) < 1.0
    assert 200 == rollback[0].status_code
