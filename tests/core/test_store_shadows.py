"""The shadow records: one running at a time, decisions end it once, and only labelled requests both answered."""

from __future__ import annotations

from driftline.core import Store
from tests.core.test_store import add, logged


def started(store: Store) -> tuple[int, int, int]:
    """A champion in production and a candidate running as its shadow: (champion, candidate, shadow id)."""
    champion, candidate = add(store), add(store)
    store.promote(champion, kind="initial", reason="first")
    shadow_id = store.start_shadow(
        candidate, champion_version=champion, purpose="candidate", needed_rows=3, reason="passed the holdout"
    )
    return champion, candidate, shadow_id


def test_a_candidate_in_shadow_has_the_shadow_status(store_url: str) -> None:
    """Starting a candidate's shadow marks its version `shadow`."""
    store = Store(store_url)
    _, candidate, _ = started(store)
    assert "shadow" == store.get_version(candidate)["status"]
    store.dispose()


def test_a_newer_shadow_replaces_the_running_one(store_url: str) -> None:
    """Starting a second shadow ends the first as replaced and rejects its candidate, with the reason recorded."""
    store = Store(store_url)
    champion, candidate, first = started(store)
    newer = add(store)
    store.start_shadow(newer, champion_version=champion, purpose="candidate", needed_rows=3, reason="newer")
    replaced = store.shadow_history()[1]
    assert (first, "replaced", f"replaced by a shadow of version {newer}", "rejected") == (
        replaced["id"],
        replaced["status"],
        replaced["reason"],
        store.get_version(candidate)["status"],
    )
    store.dispose()


def test_a_shadow_ends_once(store_url: str) -> None:
    """A second decision on an ended shadow changes nothing and says so."""
    store = Store(store_url)
    _, _, shadow_id = started(store)
    first = store.finish_shadow(shadow_id, status="rejected", reason="failed at predict")
    second = store.finish_shadow(shadow_id, status="promoted", reason="too late")
    assert (True, False, "rejected") == (first, second, store.shadow_history()[0]["status"])
    store.dispose()


def test_no_shadow_runs_after_a_decision(store_url: str) -> None:
    """The active shadow is gone once its decision is recorded."""
    store = Store(store_url)
    _, _, shadow_id = started(store)
    store.finish_shadow(shadow_id, status="rejected", reason="timeout")
    assert store.active_shadow() is None
    store.dispose()


def test_shadowed_rows_are_labelled_requests_the_champion_answered(store_url: str) -> None:
    """Only requests the champion answered, the shadow predicted and a label came back for are compared."""
    store = Store(store_url)
    champion, _, shadow_id = started(store)
    store.insert_predictions(logged(4, version=lambda i: champion if i < 3 else 99))
    store.insert_shadow_predictions(
        [
            {"request_id": f"r{i}", "shadow_id": shadow_id, "created_at": 1.0, "output": {"prediction": 1}}
            for i in (0, 1, 3)
        ]
    )
    store.record_feedback({"r0": 1, "r2": 0, "r3": 1})
    shadow = store.active_shadow()
    assert shadow is not None
    rows = store.shadowed_labelled(shadow, limit=10)
    assert ([("r0", {"prediction": 0}, {"prediction": 1}, 1)], 1) == (
        [(r["request_id"], r["champion_output"], r["shadow_output"], r["label"]) for r in rows],
        store.count_shadowed_labelled(shadow),
    )
    store.dispose()
