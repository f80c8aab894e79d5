from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from driftline.core import SCHEDULER_JOBS_TABLE, PromotionRefused, Store, UnknownVersion
from tests.store_reads import labels_for, lease_holder, recent_predictions


def add(store: Store, name: str = "m") -> int:
    return store.add_version(
        name=name,
        artifact_dir="models/m/x",
        artifact_tag="m:x",
        hashes={"a": "b"},
        schema={"numeric": []},
        details={"metrics": {"roc_auc": 0.7}},
    )


def logged(count: int, version: Callable[[int], int] = lambda i: 1, prediction: int = 0) -> list[dict[str, Any]]:
    """Prediction records r0, r1, … created at 0, 1, … with feature x = i."""
    return [
        {
            "request_id": f"r{i}",
            "created_at": float(i),
            "model_version": version(i),
            "features": {"x": i},
            "output": {"prediction": prediction},
            "latency_ms": 1.0,
        }
        for i in range(count)
    ]


def test_promotion_moves_the_pointer_and_writes_history_together(store_url: str) -> None:
    """Each promotion is one history row naming the previous version; statuses follow."""
    store = Store(store_url)
    first, second = add(store), add(store)
    assert store.production_version() is None
    store.promote(first, kind="initial", reason="first")
    store.promote(second, kind="manual", reason="better", evidence={"gain": 0.1})
    assert second == store.production_version()
    history = store.promotion_history()
    assert [(None, first, "initial"), (first, second, "manual")] == [
        (h["previous_version"], h["version"], h["kind"]) for h in history
    ]
    assert store.current_promotion()["evidence"] == {"gain": 0.1}
    assert [v["status"] for v in store.list_versions()] == ["archived", "production"]
    store.dispose()


def test_promoting_an_unknown_or_current_version_changes_nothing(store_url: str) -> None:
    """Refused promotions leave pointer and history as they were."""
    store = Store(store_url)
    version = add(store)
    store.promote(version, kind="initial", reason="first")
    with pytest.raises(UnknownVersion):
        store.promote(99, kind="manual", reason="x")
    with pytest.raises(PromotionRefused, match="already in production"):
        store.promote(version, kind="manual", reason="x")
    assert version == store.production_version()
    assert len(store.promotion_history()) == 1
    store.dispose()


def test_predictions_and_feedback_are_kept_by_request_id(store_url: str) -> None:
    """Logged ids are known; a second label for one request replaces the first."""
    store = Store(store_url)
    store.insert_predictions(logged(3, prediction=1))
    assert store.count_predictions() == 3
    assert {"r0", "r2"} == store.known_request_ids(["r0", "r2", "nope"])
    store.record_feedback({"r0": 1, "r1": 0})
    store.record_feedback({"r0": 0})
    assert labels_for(store, ["r0", "r1", "r2"]) == {"r0": 0, "r1": 0}
    assert [p["request_id"] for p in recent_predictions(store, 2)] == ["r2", "r1"]
    store.dispose()


def test_writing_a_prediction_record_twice_keeps_one_and_the_rest_of_the_batch(store_url: str) -> None:
    """A retried batch whose first commit went through (but its answer was lost) neither fails nor duplicates."""
    store = Store(store_url)

    def record(i: int) -> dict[str, object]:
        return {
            "request_id": f"r{i}",
            "created_at": float(i),
            "model_version": 1,
            "features": {"x": i},
            "output": {"prediction": i},
            "latency_ms": 1.0,
        }

    store.insert_predictions([record(0), record(1)])
    store.insert_predictions([record(1), record(2)])
    assert 3 == store.count_predictions()
    assert {"r0", "r1", "r2"} == store.known_request_ids(["r0", "r1", "r2"])
    store.dispose()


def test_training_runs_record_their_outcome(store_url: str) -> None:
    """A run starts as running and ends with a status and message."""
    store = Store(store_url)
    run = store.start_run("test")
    assert store.list_runs()[0]["status"] == "running"
    store.finish_run(run, status="failed", message="too few rows")
    assert (store.list_runs()[0]["status"], store.list_runs()[0]["message"]) == ("failed", "too few rows")
    store.dispose()


def test_windows_are_the_latest_rows_of_one_version_with_labels(store_url: str) -> None:
    """window_ids counts back from the newest row of a version; window_rows samples it and joins late labels."""
    store = Store(store_url)
    store.insert_predictions(logged(100, version=lambda i: 1 if i < 80 else 2))
    store.record_feedback({"r75": 1, "r78": 0, "r10": 1})
    first, last, count = store.window_ids(version=1, rows=10)
    ids = [row["id"] for row in recent_predictions(store, 100)]
    assert (ids[-71], ids[-80], 10) == (first, last, count)
    rows = store.window_rows(version=1, first=first, last=last, limit=100)
    assert sorted(r["features"]["x"] for r in rows) == list(range(70, 80))
    assert {"r75": 1, "r78": 0} == {r["request_id"]: r["label"] for r in rows if r["label"] is not None}
    assert 2 == store.count_labelled(version=1, first=first, last=last)
    labelled = store.window_rows(version=1, first=first, last=last, limit=100, labelled_only=True)
    assert ["r75", "r78"] == [r["request_id"] for r in labelled]
    bare = store.window_rows(version=1, first=first, last=last, limit=100, labelled_only=True, with_features=False)
    assert [("r75", 1, {"prediction": 0}), ("r78", 0, {"prediction": 0})] == [
        (r["request_id"], r["label"], r["output"]) for r in bare
    ]
    assert all("features" not in r for r in bare)
    assert 5 == len(store.window_rows(version=1, first=first, last=last, limit=5))
    assert 20 == store.window_ids(version=2, rows=1000)[2]
    assert 5 == store.window_ids(version=1, since=75.0)[2]
    assert (0, 0, 0) == store.window_ids(version=3, rows=10)
    store.dispose()


def test_a_lease_has_one_holder_until_it_expires(store_url: str) -> None:
    """The holder renews; another replica gets it only after expiry; release hands it over at once."""
    store = Store(store_url)
    assert store.acquire_lease("monitor", "a", 10, now=100.0)
    assert not store.acquire_lease("monitor", "b", 10, now=105.0)
    assert store.acquire_lease("monitor", "a", 10, now=108.0)
    assert "a" == lease_holder(store, "monitor", now=110.0)
    assert not store.acquire_lease("monitor", "b", 10, now=117.0)
    assert store.acquire_lease("monitor", "b", 10, now=118.5)
    store.release_lease("monitor", "b")
    assert None is lease_holder(store, "monitor", now=119.0)
    assert store.acquire_lease("monitor", "a", 10, now=119.0)
    store.dispose()


def test_a_window_sample_is_repeatable_and_a_sliding_window_keeps_its_rows(store_url: str) -> None:
    """The same window gives the same rows; a window moved on by 10 % keeps most of the sampled rows it still
    holds; and the pick spreads over the whole window (not its first or last ids)."""
    store = Store(store_url)
    store.insert_predictions(logged(3000))
    ids = sorted(row["id"] for row in recent_predictions(store, 3000))

    def sample(first: int, last: int) -> set[int]:
        return {r["features"]["x"] for r in store.window_rows(version=1, first=first, last=last, limit=200)}

    picked = sample(ids[0], ids[1999])
    assert 200 == len(picked) and picked == sample(ids[0], ids[1999])
    moved = sample(ids[200], ids[2199])
    assert len(picked & moved) > 150
    assert min(picked) < 200 and max(picked) > 1800 and 60 < sum(x < 1000 for x in picked) < 140
    store.dispose()


def test_a_window_sample_returns_only_the_payloads_of_rows_not_known_and_every_label(store_url: str) -> None:
    """`known` ids get no payload (a caller kept it), yet are picked as without it, with their labels read anew."""
    store = Store(store_url)
    store.insert_predictions(logged(300))
    ids = sorted(row["id"] for row in recent_predictions(store, 300))
    picked, payloads = store.window_sample(version=1, first=ids[0], last=ids[199], limit=50)
    assert len(picked.ids) == 50 == len(payloads) and picked.ids == sorted(payloads)
    assert picked.request_ids == [f"r{ids.index(i)}" for i in picked.ids] and picked.labels == [None] * 50
    assert picked.created_at == [float(ids.index(i)) for i in picked.ids]
    assert all(payloads[i]["features"] == {"x": ids.index(i)} for i in picked.ids)
    store.record_feedback(dict.fromkeys(picked.request_ids, 1))
    known = set(picked.ids)
    moved, fresh = store.window_sample(version=1, first=ids[50], last=ids[249], limit=50, known=known)
    again = known & set(moved.ids)
    assert 25 < len(again) < 50
    assert set(fresh) == set(moved.ids) - again
    assert [label for i, label in zip(moved.ids, moved.labels, strict=True) if i in again] == [1] * len(again)
    assert moved == store.window_sample(version=1, first=ids[50], last=ids[249], limit=50)[0]
    bare = store.window_sample(version=1, first=ids[0], last=ids[199], limit=5, with_features=False)[1]
    assert all(set(payload) == {"output"} for payload in bare.values()) and len(bare) == 5
    nothing, none = store.window_sample(version=2, first=ids[0], last=ids[299], limit=50, known=known)
    assert (nothing.ids, none) == ([], {})
    store.dispose()


def test_scheduled_runs_are_empty_before_a_monitor_made_its_job_table(store_url: str) -> None:
    """With no APScheduler job table yet, `driftline status` has no next runs to show."""
    store = Store(store_url)
    assert {} == store.scheduled_runs()
    store.dispose()


def test_scheduled_runs_read_each_job_next_run_time_from_the_scheduler_table(store_url: str) -> None:
    """Each job in APScheduler's table is listed by id with its next run time; a paused job has None."""
    store = Store(store_url)
    jobs = sa.Table(
        SCHEDULER_JOBS_TABLE,
        sa.MetaData(),
        sa.Column("id", sa.String(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    jobs.create(store.engine)
    with store.engine.begin() as conn:
        conn.execute(
            jobs.insert(),
            [
                {"id": "retrain", "next_run_time": None, "job_state": b""},
                {"id": "drift-check", "next_run_time": 1700000000.5, "job_state": b""},
            ],
        )
    assert {"drift-check": 1700000000.5, "retrain": None} == store.scheduled_runs()
    store.dispose()
