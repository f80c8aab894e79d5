"""The back-off of drift-triggered retrains: doubling per rejection in a row, the cap, and what resets it."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.core import RetrainHistory, RetrainSettings, Store, decide_backoff, retrain_backoff
from tests.core.test_store import add

SETTINGS = RetrainSettings(cooldown_seconds=100, backoff_max_seconds=1000)


def run(started_at: float, outcome: str, trigger: str = "drift") -> dict[str, Any]:
    """A training-run row as `Store.list_runs` returns it."""
    if outcome in ("failed", "running"):
        return {"started_at": started_at, "trigger": trigger, "status": outcome, "details": {}}
    return {"started_at": started_at, "trigger": trigger, "status": "succeeded", "details": {"outcome": outcome}}


def shadowed(started_at: float, shadow_id: int) -> dict[str, Any]:
    """A drift-triggered run whose candidate went to the shadow phase as shadow `shadow_id`."""
    details = {"outcome": "shadow", "evidence": {"shadow_id": shadow_id}}
    return {"started_at": started_at, "trigger": "drift", "status": "succeeded", "details": details}


def history(
    *runs: dict[str, Any],
    promoted_at: float | None = None,
    quiet_at: float | None = None,
    shadows: dict[int, str] | None = None,
) -> RetrainHistory:
    """Runs given oldest first, stored latest first as the store lists them."""
    return RetrainHistory(
        runs=list(reversed(runs)),
        last_promotion_at=promoted_at,
        last_quiet_check_at=quiet_at,
        shadow_statuses=shadows or {},
    )


def test_without_any_retrain_nothing_is_waited_for() -> None:
    """A store with no retrain allows a drift-triggered one at once."""
    backoff = decide_backoff(SETTINGS, history())
    assert (None, "none", True) == (backoff.allowed_at, backoff.kind, backoff.allows(0.0))


def test_a_promoted_retrain_waits_the_plain_cooldown() -> None:
    """After a promotion the next retrain waits the cool-down from the last retrain's start."""
    backoff = decide_backoff(SETTINGS, history(run(1000, "promoted"), promoted_at=1010))
    assert (1100, "cooldown", 0) == (backoff.allowed_at, backoff.kind, backoff.rejected_in_a_row)


@pytest.mark.parametrize(("rejections", "wait"), [(1, 200), (2, 400), (3, 800)])
def test_the_wait_doubles_per_rejection_in_a_row(rejections: int, wait: int) -> None:
    """Each drift-triggered retrain rejected in a row doubles the cool-down."""
    runs = [run(1000 + 10 * n, "rejected") for n in range(rejections)]
    backoff = decide_backoff(SETTINGS, history(*runs))
    assert (wait, runs[-1]["started_at"] + wait, "backoff") == (backoff.wait_seconds, backoff.allowed_at, backoff.kind)


def test_the_wait_stops_growing_at_the_cap() -> None:
    """Five rejections would make 3,200 s; the cap holds the wait at 1,000 s and says so."""
    backoff = decide_backoff(SETTINGS, history(*(run(1000 + n, "rejected") for n in range(5))))
    assert (1000, "capped", 5) == (backoff.wait_seconds, backoff.kind, backoff.rejected_in_a_row)


def test_the_reason_says_how_many_were_rejected_and_the_wait() -> None:
    """The reason reads as a sentence an operator can act on."""
    backoff = decide_backoff(SETTINGS, history(run(0, "rejected"), run(50, "rejected")))
    expected = (
        "2 drift-triggered retrains rejected in a row: the cool-down of 100 s doubled to 400 s, "
        "after the retrain at 1970-01-01 00:00:50 UTC"
    )
    assert expected == backoff.reason


def test_a_promotion_resets_the_streak() -> None:
    """Rejections before a promotion (of any kind, by hand too) no longer count."""
    runs = (run(1000, "rejected"), run(1100, "rejected"), run(1200, "rejected"))
    backoff = decide_backoff(SETTINGS, history(*runs, promoted_at=1250))
    assert (0, 1300) == (backoff.rejected_in_a_row, backoff.allowed_at)


def test_a_manual_retrain_resets_the_streak() -> None:
    """`driftline retrain` after rejections starts the wait afresh, from its own start."""
    runs = (run(1000, "rejected"), run(1100, "rejected"), run(1200, "rejected", trigger="cli"))
    backoff = decide_backoff(SETTINGS, history(*runs))
    assert (0, 1300, "cooldown") == (backoff.rejected_in_a_row, backoff.allowed_at, backoff.kind)


def test_a_check_without_drift_resets_the_streak() -> None:
    """A window without drift after the rejections ends the streak."""
    backoff = decide_backoff(SETTINGS, history(run(1000, "rejected"), run(1100, "rejected"), quiet_at=1150))
    assert (0, 1200) == (backoff.rejected_in_a_row, backoff.allowed_at)


def test_the_reason_names_what_reset_the_streak() -> None:
    """After a reset the reason says which record ended the back-off, and when."""
    backoff = decide_backoff(SETTINGS, history(run(1000, "rejected"), run(1100, "rejected"), quiet_at=1150))
    expected = (
        "the cool-down of 100 s after the retrain at 1970-01-01 00:18:20 UTC "
        "(back-off reset by a check without drift at 1970-01-01 00:19:10 UTC)"
    )
    assert expected == backoff.reason


def test_rejections_after_a_reset_count_again() -> None:
    """Only the rejections since the latest reset make the wait."""
    runs = (run(1000, "rejected"), run(1100, "rejected"), run(1300, "rejected"))
    backoff = decide_backoff(SETTINGS, history(*runs, quiet_at=1200))
    assert 1 == backoff.rejected_in_a_row


def test_failed_and_scheduled_runs_neither_count_nor_reset() -> None:
    """A failed drift retrain and a rejected scheduled one leave the streak of two as it was; the wait runs from the
    latest retrain of any trigger."""
    runs = (
        run(1000, "rejected"),
        run(1100, "failed"),
        run(1200, "rejected", trigger="schedule"),
        run(1300, "rejected"),
    )
    backoff = decide_backoff(SETTINGS, history(*runs))
    assert (2, 1700) == (backoff.rejected_in_a_row, backoff.allowed_at)


def test_a_cap_below_the_cooldown_turns_the_back_off_off() -> None:
    """The wait never drops below the cool-down, so a cap at or below it leaves the plain cool-down."""
    settings = RetrainSettings(cooldown_seconds=100, backoff_max_seconds=0)
    backoff = decide_backoff(settings, history(run(1000, "rejected"), run(1100, "rejected")))
    assert 100 == backoff.wait_seconds


def test_the_store_history_gives_the_same_answer(store_url: str) -> None:
    """Read from a real store: two rejected drift retrains double the wait twice, a check without drift resets it."""
    store = Store(store_url)
    for _ in range(2):
        store.finish_run(store.start_run("drift"), status="succeeded", details={"outcome": "rejected"})
    before = retrain_backoff(SETTINGS, store)
    store.record_check(checked_at=before.allowed_at - 300, model_version=1, outcome="ok", drift_share=0.0, summary={})
    after = retrain_backoff(SETTINGS, store)
    store.dispose()
    assert ((2, 400), (0, 100)) == (
        (before.rejected_in_a_row, before.wait_seconds),
        (after.rejected_in_a_row, after.wait_seconds),
    )


def test_a_shadow_rejected_on_live_requests_counts_as_a_rejection() -> None:
    """A candidate that passed its holdout and lost in the shadow phase doubles the wait like a rejected one."""
    runs = (run(1000, "rejected"), shadowed(1100, shadow_id=7))
    backoff = decide_backoff(SETTINGS, history(*runs, shadows={7: "rejected"}))
    assert (2, 1500) == (backoff.rejected_in_a_row, backoff.allowed_at)


def test_a_running_shadow_neither_counts_nor_breaks_the_streak() -> None:
    """While its shadow is undecided a run is left out, like a failed one: the earlier rejection still counts."""
    runs = (run(1000, "rejected"), shadowed(1100, shadow_id=7))
    backoff = decide_backoff(SETTINGS, history(*runs, shadows={7: "running"}))
    assert 1 == backoff.rejected_in_a_row


def test_a_replaced_shadow_neither_counts_nor_breaks_the_streak() -> None:
    """A shadow a newer candidate replaced was never decided, so it leaves the streak as it was."""
    runs = (run(1000, "rejected"), shadowed(1100, shadow_id=7), run(1200, "rejected"))
    backoff = decide_backoff(SETTINGS, history(*runs, shadows={7: "replaced"}))
    assert 2 == backoff.rejected_in_a_row


def test_a_promoted_shadow_ends_the_streak() -> None:
    """A shadow promoted on live requests breaks the streak of the rejections before it."""
    runs = (run(1000, "rejected"), run(1100, "rejected"), shadowed(1200, shadow_id=7))
    backoff = decide_backoff(SETTINGS, history(*runs, shadows={7: "promoted"}))
    assert 0 == backoff.rejected_in_a_row


def test_shadow_rejections_and_timeouts_in_a_real_store_double_the_wait(store_url: str) -> None:
    """Read from a real store: one shadow rejected on live requests and one short of labels in time make a streak
    of two, as two rejected candidates would."""
    store = Store(store_url)
    champion = add(store)
    store.promote(champion, kind="initial", reason="first")
    endings = [("rejected", {}), ("rejected", {"rows": 3, "timed_out": True})]
    for status, evidence in endings:
        run_id = store.start_run("drift")
        shadow_id = store.start_shadow(
            add(store), champion_version=champion, purpose="candidate", needed_rows=10, reason="passed the holdout"
        )
        details = {"outcome": "shadow", "evidence": {"shadow_id": shadow_id}}
        store.finish_run(run_id, status="succeeded", details=details)
        store.finish_shadow(shadow_id, status=status, reason="decided", evidence=evidence)
    backoff = retrain_backoff(SETTINGS, store)
    store.dispose()
    assert (2, 400) == (backoff.rejected_in_a_row, backoff.wait_seconds)
