"""What a pruning may delete, decided from the settings and the store's state before anything is deleted.

The plan names cut-off times per kind of record, the predictions no cut-off may reach (the production version's
current drift window and the labelled rows a retrain reads), and the versions to delete. Versions kept: the
production version, every `registered` one (never decided on), the first `retention.archived_versions` distinct
versions successive rollbacks reach from production, and the newest `retention.rejected_versions` rejected ones.
The drift reference is a file of the production version, so it is kept with it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from driftline.core.settings import Settings
from driftline.core.store.facade import Store
from driftline.core.store.retention import Protected
from driftline.core.store.rows import VersionRow

DAY = 86_400.0


@dataclass(frozen=True)
class PruningPlan:
    """One pruning's cut-offs (Unix times: older records go), protected rows and versions to delete."""

    predictions_before: float
    predictions_below_id: int | None  # the row cap of `retention.predictions_max_rows`, as an id
    labels_before: float
    checks_before: float
    reports_before: float
    protected: Protected
    versions: list[VersionRow]


def plan_pruning(store: Store, settings: Settings, now: float | None = None) -> PruningPlan:
    """The plan for pruning `store` at `now` under `settings.retention`."""
    now = time.time() if now is None else now
    keep = settings.retention
    production = store.production_version()
    cap = keep.predictions_max_rows
    return PruningPlan(
        predictions_before=now - keep.predictions_days * DAY,
        predictions_below_id=store.nth_newest_prediction_id(cap) if cap is not None else None,
        labels_before=now - keep.labels_days * DAY,
        checks_before=now - keep.checks_days * DAY,
        reports_before=now - keep.reports_days * DAY,
        protected=Protected(
            window_from_id=_window_start(store, settings, production, now),
            labelled_from_id=store.nth_newest_labelled_id(settings.retrain.live_rows),
        ),
        versions=versions_to_prune(
            store.list_versions(),
            production=production,
            lineage=store.rollback_lineage(),
            keep_rejected=keep.rejected_versions,
            keep_archived=keep.archived_versions,
        ),
    )


def _window_start(store: Store, settings: Settings, production: int | None, now: float) -> int | None:
    """The first id of the production version's drift window as the monitor reads it; None when it is empty."""
    if production is None:
        return None
    seconds = settings.monitoring.window_seconds
    first, _, count = store.window_ids(
        version=production, rows=settings.monitoring.window_rows, since=now - seconds if seconds else None
    )
    return first if count else None


def versions_to_prune(
    versions: Sequence[VersionRow],
    *,
    production: int | None,
    lineage: Sequence[int],
    keep_rejected: int,
    keep_archived: int,
) -> list[VersionRow]:
    """The rejected versions beyond the newest `keep_rejected`, and the archived ones that are not among the first
    `keep_archived` distinct versions a chain of rollbacks from `production` reaches (`lineage`, oldest first)."""
    reachable: list[int] = []
    for version in reversed(lineage):
        if len(reachable) == keep_archived:
            break
        if version != production and version not in reachable:
            reachable.append(version)
    rejected = sorted((v for v in versions if v["status"] == "rejected"), key=lambda v: v["version"], reverse=True)
    archived = [v for v in versions if v["status"] == "archived" and v["version"] not in reachable]
    doomed = rejected[keep_rejected:] + archived
    return sorted((v for v in doomed if v["version"] != production), key=lambda v: v["version"])
