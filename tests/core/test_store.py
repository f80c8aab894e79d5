from __future__ import annotations

import pytest

from driftline.core import PromotionRefused, Store, UnknownVersion


def add(store: Store, name: str = "m") -> int:
    return store.add_version(
        name=name,
        artifact_dir="models/m/x",
        artifact_tag="m:x",
        hashes={"a": "b"},
        schema={"numeric": []},
        details={"metrics": {"roc_auc": 0.7}},
    )


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
    store.insert_predictions(
        [
            {
                "request_id": f"r{i}",
                "created_at": float(i),
                "model_version": 1,
                "features": {"x": i},
                "output": {"prediction": 1},
                "latency_ms": 1.0,
            }
            for i in range(3)
        ]
    )
    assert store.count_predictions() == 3
    assert {"r0", "r2"} == store.known_request_ids(["r0", "r2", "nope"])
    store.record_feedback({"r0": 1, "r1": 0})
    store.record_feedback({"r0": 0})
    assert store.labels_for(["r0", "r1", "r2"]) == {"r0": 0, "r1": 0}
    assert [p["request_id"] for p in store.recent_predictions(2)] == ["r2", "r1"]
    store.dispose()


def test_training_runs_record_their_outcome(store_url: str) -> None:
    """A run starts as running and ends with a status and message."""
    store = Store(store_url)
    run = store.start_run("test")
    assert store.list_runs()[0]["status"] == "running"
    store.finish_run(run, status="failed", message="too few rows")
    assert (store.list_runs()[0]["status"], store.list_runs()[0]["message"]) == ("failed", "too few rows")
    store.dispose()
