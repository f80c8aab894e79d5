"""The monitor's retention job on a real store and model store: what goes, what stays, and that retrains still work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.core import PromotionRefused, Registry, Settings, Store
from driftline.core.store import model_versions
from monitoring import MonitorMetrics, ReportArchive
from retrain import retrain, train
from retrain.pruning import Pruner
from tests.monitoring.conftest import log_predictions
from tests.retrain.test_challenger import new_regime

LATER = 40 * 86_400.0  # pruning "40 days from now" makes every row logged in the test past the 30-day default


@pytest.fixture
def ready(settings: Settings, store_url: str) -> Settings:
    settings.store.url = store_url
    settings.monitoring.window_rows = 200
    settings.retrain.min_labeled_rows = 300
    settings.retrain.live_rows = 600
    settings.retention.batch_pause_seconds = 0.0
    return settings


@pytest.fixture
def shared(ready: Settings) -> Iterator[Registry]:
    """A registry on the parametrized store (SQLite or PostgreSQL) with version 1 trained and in production."""
    store = Store(ready.store.url)
    registry = Registry(store, ready.store.model_dir)
    train(ready, registry, trigger="test")
    yield registry
    store.dispose()


def pruner(settings: Settings, registry: Registry, tmp_path: Path) -> Pruner:
    return Pruner(settings, registry, ReportArchive(tmp_path / "reports", keep=20), MonitorMetrics())


def test_old_rows_go_but_those_a_retrain_reads_stay(ready: Settings, shared: Registry, tmp_path: Path) -> None:
    """Of 1500 labelled rows past retention, the 600 a retrain reads (retrain.live_rows) stay."""
    live = new_regime(1500, seed=41)
    log_predictions(shared, live, labels=live["default"])
    pruner(ready, shared, tmp_path).run(now=time.time() + LATER)
    assert (600, 600) == (shared.store.count_predictions(), shared.store.count_feedback())


def test_a_retrain_right_after_pruning_finds_all_its_rows(ready: Settings, shared: Registry, tmp_path: Path) -> None:
    """The retrain after a pruning trains and scores on its full 600 live rows and promotes the better model."""
    live = new_regime(1500, seed=41)
    log_predictions(shared, live, labels=live["default"])
    pruner(ready, shared, tmp_path).run(now=time.time() + LATER)
    decision = retrain(ready, shared, trigger="test")
    rows = decision.evidence["rows"]
    assert ("promoted", 420, 180) == (decision.outcome, rows["live_train"], rows["holdout"])


def test_deleted_rows_are_counted_by_table(ready: Settings, shared: Registry, tmp_path: Path) -> None:
    """driftline_pruned_rows_total counts the 900 predictions and their 900 labels."""
    live = new_regime(1500, seed=41)
    log_predictions(shared, live, labels=live["default"])
    job = pruner(ready, shared, tmp_path)
    job.run(now=time.time() + LATER)
    counted = job.metrics.registry.get_sample_value
    pruned = [counted("driftline_pruned_rows_total", {"table": t}) for t in ("predictions", "feedback")]
    assert [900.0, 900.0] == pruned


def make_history(settings: Settings, registry: Registry) -> Registry:
    """After v1: v1 -> v2 -> v3 promoted in turn (v1, v2 archived), and v4, v5 rejected; one of each kept."""
    for _ in range(4):
        train(settings, registry, trigger="test")
    registry.promote(2, kind="manual", reason="test")
    registry.promote(3, kind="manual", reason="test")
    with registry.store.engine.begin() as conn:
        conn.execute(model_versions.update().where(model_versions.c.version >= 4).values(status="rejected"))
    settings.retention.archived_versions = 1
    settings.retention.rejected_versions = 1
    return registry


@pytest.fixture
def history(ready: Settings, shared: Registry) -> Registry:
    """v1 -> v2 -> v3 promoted in turn (v1, v2 archived), and v4, v5 rejected."""
    return make_history(ready, shared)


@pytest.fixture
def bucketed(ready: Settings, tmp_path: Path) -> Iterator[Registry]:
    """That history with every version's files in a shared artifact store (a local folder)."""
    ready.store.artifacts_url = f"file://{tmp_path / 'bucket'}"
    store = Store(ready.store.url)
    registry = Registry.configured(store, ready.store)
    train(ready, registry, trigger="test")
    yield make_history(ready, registry)
    store.dispose()


def stored_objects(folder: Path) -> set[str]:
    return {path.name for path in (folder / "sha256").iterdir()}


def test_pruned_versions_lose_their_objects_in_the_artifact_store(
    ready: Settings, bucketed: Registry, tmp_path: Path
) -> None:
    """Past the grace period, the bucket holds exactly the objects of v2, v3 and v5, the versions kept."""
    pruner(ready, bucketed, tmp_path).run(now=time.time() + ready.retention.artifacts_grace_seconds + 60)
    kept = {digest for version in bucketed.versions() for digest in version.hashes.values()}
    assert kept == stored_objects(tmp_path / "bucket")


def test_objects_younger_than_the_grace_period_stay(ready: Settings, bucketed: Registry, tmp_path: Path) -> None:
    """Within the grace period the pruned versions' objects stay in the bucket; their rows are gone."""
    before = stored_objects(tmp_path / "bucket")
    pruner(ready, bucketed, tmp_path).run()
    assert ([2, 3, 5], before) == ([v.version for v in bucketed.versions()], stored_objects(tmp_path / "bucket"))


def test_versions_past_retention_go_and_production_and_rollback_targets_stay(
    ready: Settings, history: Registry, tmp_path: Path
) -> None:
    """With one archived and one rejected kept: v1 and v4 go; v2 (the rollback target), v3 (production), v5 stay."""
    pruner(ready, history, tmp_path).run()
    assert [2, 3, 5] == [v.version for v in history.versions()]


def test_pruned_versions_lose_their_files_and_kept_ones_still_load(
    ready: Settings, history: Registry, tmp_path: Path
) -> None:
    """The files of v1 and v4 are gone from the model store; v2, v3 and v5 still load from theirs."""
    folders = {v.version: history.model_dir / v.artifact_dir for v in history.versions()}
    pruner(ready, history, tmp_path).run()
    for kept in (2, 3, 5):
        history.load(kept)
    assert {1: False, 2: True, 3: True, 4: False, 5: True} == {n: path.is_dir() for n, path in folders.items()}


def test_a_rollback_reaches_the_kept_version_and_stops_before_a_pruned_one(
    ready: Settings, history: Registry, tmp_path: Path
) -> None:
    """After pruning, a rollback goes back to v2; the next would reach the pruned v1 and is refused by name."""
    pruner(ready, history, tmp_path).run()
    assert 2 == history.rollback()
    with pytest.raises(PromotionRefused, match="version 1, in production before version 2, was pruned"):
        history.rollback()
