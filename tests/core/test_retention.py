"""Retention in the store: what a pruning deletes, what it must keep, and that it deletes in bounded batches."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from driftline.core import Settings, Store, VersionRow, plan_pruning
from driftline.core.store import Protected, predictions, shadow_predictions, versions_to_prune
from tests.core.test_store import add

DAY = 86_400.0
_ids = itertools.count()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store with version 1 in production."""
    store = Store(store_url)
    store.promote(add(store), kind="initial", reason="first")
    yield store
    store.dispose()


def retention(**fields: Any) -> Settings:
    """Settings with a 10-row drift window, retrains reading the 5 newest labelled rows, and no pause."""
    return Settings(
        monitoring={"window_rows": 10},
        retrain={"live_rows": 5},
        retention={"batch_pause_seconds": 0.0, **fields},
    )


def log(store: Store, rows: int, *, days_ago: float, labelled: bool = False) -> list[str]:
    """Log `rows` predictions of version 1 made `days_ago` days ago (labelled now when asked)."""
    at = time.time() - days_ago * DAY
    ids = [f"q{next(_ids)}" for _ in range(rows)]
    store.insert_predictions(
        [
            {
                "request_id": rid,
                "created_at": at,
                "model_version": 1,
                "features": {"x": 1},
                "output": {"prediction": 0},
                "latency_ms": 1.0,
            }
            for rid in ids
        ]
    )
    if labelled:
        store.record_feedback(dict.fromkeys(ids, 1))
    return ids


def prune(store: Store, settings: Settings, now: float | None = None) -> dict[str, int]:
    """Prune the rows of `store` as the monitor's job does."""
    plan = plan_pruning(store, settings, now)
    keep = settings.retention
    batch = {"batch_rows": keep.batch_rows, "pause_seconds": keep.batch_pause_seconds}
    done = store.prune_predictions(
        before=plan.predictions_before, below_id=plan.predictions_below_id, protected=plan.protected, **batch
    )
    labels = store.prune_labels(before=plan.labels_before, protected=plan.protected, **batch)
    return {**done, "feedback": done.get("feedback", 0) + labels.get("feedback", 0)}


def remaining(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(predictions.c.request_id).order_by(predictions.c.id)).scalars())


def test_predictions_past_retention_go_and_recent_ones_stay(store: Store) -> None:
    """Forty predictions 40 days old are deleted; the twenty of yesterday stay."""
    log(store, 40, days_ago=40)
    recent = log(store, 20, days_ago=1)
    prune(store, retention())
    assert recent == remaining(store)


def test_a_deleted_prediction_takes_its_label_along(store: Store) -> None:
    """Labels of deleted predictions are deleted with them, in the same batches."""
    log(store, 30, days_ago=40, labelled=True)
    log(store, 20, days_ago=1)
    deleted = prune(store, retention(labels_days=1000))
    assert ({"predictions": 25, "feedback": 25, "shadow_predictions": 0}, 5) == (deleted, store.count_feedback())


def test_the_current_drift_window_is_kept_however_old(store: Store) -> None:
    """With nothing newer logged, the window's ten newest rows stay though all are past retention."""
    logged = log(store, 30, days_ago=40)
    prune(store, retention())
    assert logged[-10:] == remaining(store)


def test_the_labelled_rows_a_retrain_reads_are_kept_however_old(store: Store) -> None:
    """The five newest labelled rows (retrain.live_rows) stay with their labels; older labelled rows go."""
    labelled = log(store, 30, days_ago=40, labelled=True)
    window = log(store, 20, days_ago=1)
    prune(store, retention())
    assert (labelled[-5:] + window, 5) == (remaining(store), store.count_feedback())


def test_old_labels_go_and_their_predictions_stay(store: Store) -> None:
    """Labels older than labels_days are deleted, except those of the window; every prediction stays."""
    log(store, 30, days_ago=0, labelled=True)
    prune(store, retention(labels_days=1), now=time.time() + 2 * DAY)
    assert (30, 10) == (store.count_predictions(), store.count_feedback())


def test_a_row_cap_deletes_the_oldest_beyond_it(store: Store) -> None:
    """With predictions_max_rows 20, the 20 newest of 30 recent rows stay."""
    logged = log(store, 30, days_ago=0)
    prune(store, retention(predictions_max_rows=20))
    assert logged[-20:] == remaining(store)


def test_deletes_run_in_batches_of_batch_rows(store: Store) -> None:
    """35 rows to delete with batch_rows 10 go in four statements: 10, 10, 10 and 5."""
    log(store, 35, days_ago=40)
    log(store, 10, days_ago=0)
    plan = plan_pruning(store, retention())
    batches: list[int] = []
    store.prune_predictions(
        before=plan.predictions_before,
        below_id=None,
        protected=plan.protected,
        batch_rows=10,
        pause_seconds=0.0,
        on_batch=lambda table, rows: batches.append(rows) if table == "predictions" else None,
    )
    assert [10, 10, 10, 5] == batches


def test_an_empty_store_protects_nothing(store_url: str) -> None:
    """Without a production version or labels, the plan protects no row."""
    empty = Store(store_url)
    assert Protected(None, None) == plan_pruning(empty, retention()).protected
    empty.dispose()


def test_old_checks_go_and_new_ones_stay(store: Store) -> None:
    """Checks recorded before checks_days are deleted; later ones are kept."""
    for days_ago in (40, 35, 2, 1):
        store.record_check(
            checked_at=time.time() - days_ago * DAY, model_version=1, outcome="ok", drift_share=0.0, summary={}
        )
    store.prune_checks(before=time.time() - 30 * DAY, batch_rows=1, pause_seconds=0.0)
    assert 2 == len(store.last_checks(limit=10))


def test_the_latest_check_is_kept_however_old(store: Store) -> None:
    """The last check `driftline status` shows stays even when every check is past retention."""
    for _ in range(3):
        store.record_check(
            checked_at=time.time() - 40 * DAY, model_version=1, outcome="ok", drift_share=0.0, summary={}
        )
    latest = store.last_checks(limit=1)[0]["id"]
    store.prune_checks(before=time.time(), batch_rows=10, pause_seconds=0.0)
    assert [latest] == [check["id"] for check in store.last_checks(limit=10)]


def test_the_production_version_is_never_deleted(store: Store) -> None:
    """Deleting the production version's row is refused and the row stays."""
    assert (False, [1]) == (store.delete_version(1), [v["version"] for v in store.list_versions()])


def version(number: int, status: str) -> VersionRow:
    return {"version": number, "status": status}  # type: ignore[typeddict-item]  # the planner reads these two


def test_rejected_versions_beyond_the_newest_few_are_pruned() -> None:
    """With two rejected versions kept, the older rejected ones are planned for deletion."""
    versions = [version(1, "production"), *(version(n, "rejected") for n in (2, 3, 4, 5))]
    doomed = versions_to_prune(versions, production=1, lineage=[1], keep_rejected=2, keep_archived=5)
    assert [2, 3] == [v["version"] for v in doomed]


def test_archived_versions_rollbacks_reach_first_are_kept() -> None:
    """Of v1..v4 promoted in turn, with two archived kept, v3 and v2 (the first two rollbacks) stay and v1 goes."""
    versions = [*(version(n, "archived") for n in (1, 2, 3)), version(4, "production")]
    doomed = versions_to_prune(versions, production=4, lineage=[1, 2, 3, 4], keep_rejected=5, keep_archived=2)
    assert [1] == [v["version"] for v in doomed]


def test_a_version_a_rollback_left_is_pruned_and_registered_ones_are_kept() -> None:
    """After v1 -> v2 -> v3 and a rollback to v2, v3 is out of every rollback's reach; a registered v4 stays."""
    versions = [version(1, "archived"), version(2, "production"), version(3, "archived"), version(4, "registered")]
    doomed = versions_to_prune(versions, production=2, lineage=[1, 2], keep_rejected=5, keep_archived=5)
    assert [3] == [v["version"] for v in doomed]


def test_reclaiming_space_refuses_a_table_retention_does_not_prune(store: Store) -> None:
    """VACUUM runs only on the pruned tables' own names, never on a name from elsewhere."""
    with pytest.raises(ValueError, match="'users; DROP' is not a table retention prunes"):
        store.reclaim(["predictions", "users; DROP"])


def answer_as_shadow(store: Store, request_ids: list[str], *, days_ago: float) -> None:
    """Record a shadow's answer `days_ago` days ago to each of `request_ids`."""
    at = time.time() - days_ago * DAY
    store.insert_shadow_predictions(
        [{"request_id": rid, "shadow_id": 1, "created_at": at, "output": {"prediction": 1}} for rid in request_ids]
    )


def shadow_answers(store: Store) -> list[str]:
    query = sa.select(shadow_predictions.c.request_id).order_by(shadow_predictions.c.id)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_a_deleted_prediction_takes_its_shadow_answer_along(store: Store) -> None:
    """The shadow's answers to 40-day-old predictions go with them; those to yesterday's stay."""
    old = log(store, 40, days_ago=40)
    recent = log(store, 20, days_ago=1)
    answer_as_shadow(store, old + recent, days_ago=0)
    prune(store, retention())
    assert recent == shadow_answers(store)


def test_shadow_answers_to_kept_predictions_stay_however_old(store: Store) -> None:
    """The window's ten rows are kept past retention, and so are the shadow's answers to them."""
    logged = log(store, 30, days_ago=40)
    answer_as_shadow(store, logged, days_ago=40)
    prune(store, retention())
    store.prune_unmatched_shadow_predictions(before=time.time() - 30 * DAY, batch_rows=10, pause_seconds=0.0)
    assert logged[-10:] == shadow_answers(store)


def test_old_shadow_answers_to_predictions_never_logged_go(store: Store) -> None:
    """Shadow answers past retention whose champion prediction is not in the log are deleted; recent ones stay."""
    answer_as_shadow(store, ["lost-old-1", "lost-old-2"], days_ago=40)
    answer_as_shadow(store, ["lost-new"], days_ago=1)
    store.prune_unmatched_shadow_predictions(before=time.time() - 30 * DAY, batch_rows=1, pause_seconds=0.0)
    assert ["lost-new"] == shadow_answers(store)
