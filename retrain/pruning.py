"""The monitor's retention job: one pruning of the store, the drift reports and the model store, counted and logged.

The store decides and deletes rows (`plan_pruning`, `Store.prune_*`); this module adds what the store cannot
reach: a pruned version's files in the BentoML model store (`retrain.artifacts.delete_artifacts`, after its row is
gone, so no version ever names missing files), the shared artifact store's objects no version names any more
(`Registry.sweep_artifacts`, sparing those younger than `retention.artifacts_grace_seconds`) and the report files.
Each table's progress is logged while it runs and every deleted record is counted in
`driftline_pruned_rows_total{table}`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from driftline.core import PruningPlan, Registry, Settings, log_event, plan_pruning
from monitoring import PRUNED_TABLES, MonitorMetrics, ReportArchive
from retrain.artifacts import delete_artifacts

log = logging.getLogger(__name__)

_PROGRESS_EVERY_SECONDS = 10.0


class Pruner:
    """Prunes what `settings.retention` lets go; one run at a time (the scheduler's `max_instances=1`)."""

    def __init__(self, settings: Settings, registry: Registry, archive: ReportArchive, metrics: MonitorMetrics) -> None:
        self.settings = settings
        self.registry = registry
        self.archive = archive
        self.metrics = metrics

    def run(self, now: float | None = None) -> dict[str, int]:
        """One pruning; returns the records deleted per table."""
        started = time.monotonic()
        now = time.time() if now is None else now
        store, keep = self.registry.store, self.settings.retention
        plan = plan_pruning(store, self.settings, now)
        tally = _Tally(self.metrics)
        batch, pause = keep.batch_rows, keep.batch_pause_seconds
        with tally.table("predictions"):
            store.prune_predictions(
                before=plan.predictions_before,
                below_id=plan.predictions_below_id,
                protected=plan.protected,
                batch_rows=batch,
                pause_seconds=pause,
                on_batch=tally.add,
            )
        with tally.table("feedback"):
            store.prune_labels(
                before=plan.labels_before,
                protected=plan.protected,
                batch_rows=batch,
                pause_seconds=pause,
                on_batch=tally.add,
            )
        with tally.table("shadow_predictions"):
            store.prune_unmatched_shadow_predictions(
                before=plan.predictions_before, batch_rows=batch, pause_seconds=pause, on_batch=tally.add
            )
        with tally.table("checks"):
            store.prune_checks(before=plan.checks_before, batch_rows=batch, pause_seconds=pause, on_batch=tally.add)
        if keep.vacuum:
            pruned = ("predictions", "feedback", "shadow_predictions", "checks")
            store.reclaim([table for table in pruned if tally.totals[table]])
        with tally.table("model_versions"):
            tally.add("model_versions", self._prune_versions(plan))
        with tally.table("artifacts"):
            tally.add("artifacts", self.registry.sweep_artifacts(written_before=now - keep.artifacts_grace_seconds))
        with tally.table("reports"):
            tally.add("reports", self.archive.prune(plan.reports_before))
        log_event(log, logging.INFO, "retention done", seconds=round(time.monotonic() - started, 3), **tally.totals)
        return dict(tally.totals)

    def _prune_versions(self, plan: PruningPlan) -> int:
        """Delete the planned versions' rows, then their files; a version promoted meanwhile is skipped."""
        deleted = 0
        for version in plan.versions:
            if not self.registry.store.delete_version(version["version"]):
                continue
            deleted += 1
            if not delete_artifacts(self.registry.model_dir, version["artifact_tag"]):
                log_event(log, logging.WARNING, "pruned version had no files here", version=version["version"])
        return deleted


class _Tally:
    """Records deleted per table: counted in the metric batch by batch, logged while a table runs and after it."""

    def __init__(self, metrics: MonitorMetrics) -> None:
        self.metrics = metrics
        self.totals: dict[str, int] = dict.fromkeys(PRUNED_TABLES, 0)
        self._current = ""
        self._logged_at = time.monotonic()

    def add(self, table: str, rows: int) -> None:
        self.totals[table] += rows
        self.metrics.pruned.labels(table=table).inc(rows)
        if time.monotonic() - self._logged_at >= _PROGRESS_EVERY_SECONDS:
            self._logged_at = time.monotonic()
            log_event(log, logging.INFO, "retention progress", table=self._current, deleted=self.totals[self._current])

    @contextlib.contextmanager
    def table(self, name: str) -> Iterator[None]:
        """Prune `name` inside the block; its total is logged when the block ends."""
        started = self._logged_at = time.monotonic()
        self._current = name
        yield
        seconds = round(time.monotonic() - started, 3)
        log_event(log, logging.INFO, "retention pruned", table=name, deleted=self.totals[name], seconds=seconds)
