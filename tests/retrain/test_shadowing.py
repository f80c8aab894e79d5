"""Shadow decisions on labelled live requests: a better candidate is promoted, a worse one rejected, a shadow short
of labels times out, and a watch rolls back a promotion that does worse."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftline.cli.main import main
from driftline.core import Registry, Settings
from monitoring import CheckResult, EstimatedPerformance
from monitoring.window import LiveWindow
from retrain import TrainingOutcome, retrain
from retrain.shadowing import decide_shadow
from tests.factories import CATEGORICAL, NUMERIC, make_loans
from tests.monitoring.conftest import log_predictions
from tests.retrain.test_challenger import new_regime


@pytest.fixture
def shadowing(settings: Settings, trained: TrainingOutcome) -> Settings:
    settings.retrain.min_labeled_rows = 300
    settings.retrain.shadow_rows = 300
    return settings


@pytest.fixture
def watching(shadowing: Settings, registry: Registry) -> Settings:
    """Version 2, fitted to a new regime, promoted at once; version 1 watched beside it for 300 labelled rows."""
    shadowing.retrain.shadow_rows = 0
    shadowing.retrain.watch_rows = 300
    retrained(shadowing, registry)
    return shadowing


def retrained(settings: Settings, registry: Registry) -> None:
    """Labelled rows of a new regime logged, then a retrain."""
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    retrain(settings, registry, trigger="test")


def shadowed(registry: Registry, rows: pd.DataFrame) -> None:
    """What a worker does during a shadow: the champion's answers logged, the shadow's beside them, then labels."""
    shadow = registry.store.active_shadow()
    assert shadow is not None
    ids = log_predictions(registry, rows)
    model = registry.load(shadow["version"])
    features = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in rows[NUMERIC + CATEGORICAL].to_dict("records")
    ]
    registry.store.insert_shadow_predictions(
        [
            {"request_id": rid, "shadow_id": shadow["id"], "created_at": time.time(), "output": output}
            for rid, output in zip(ids, model.predict_rows(features), strict=True)
        ]
    )
    registry.store.record_feedback(dict(zip(ids, (int(v) for v in rows["default"]), strict=True)))


def estimating(version: int, *, alert: bool) -> CheckResult:
    """A check of `version` whose label-free estimate is (or is not) worse than its threshold."""
    window = LiveWindow(version, 500, 0, 1, 500, None, None, pd.DataFrame(), pd.DataFrame())
    threshold = 0.7 if alert else 0.5
    estimate = EstimatedPerformance("roc_auc", 0.6, 0.55, 0.65, threshold, alert, 500, "cbpe")
    return CheckResult("ok", version, "", time.time(), 0.0, window, estimated=estimate)


def test_a_candidate_that_passes_the_holdout_becomes_the_shadow(shadowing: Settings, registry: Registry) -> None:
    """With shadow_rows set, a retrain that beats the champion leaves production alone and runs the candidate as
    the shadow."""
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    decision = retrain(shadowing, registry, trigger="test")
    assert ("shadow", 1, "shadow") == (
        decision.outcome,
        registry.production().version,
        registry.get(2).status,
    )


def test_a_shadow_better_on_live_requests_is_promoted(shadowing: Settings, registry: Registry) -> None:
    """Once its shadowed requests have labels, a candidate that beats the champion on them becomes production."""
    retrained(shadowing, registry)
    shadowed(registry, new_regime(400, seed=42))
    decision = decide_shadow(shadowing, registry)
    assert decision is not None
    assert ("promoted", 2, "auto", 300) == (
        decision.outcome,
        registry.production().version,
        registry.store.current_promotion()["kind"],
        decision.evidence["rows"],
    )


def test_a_shadow_waits_for_its_labels(shadowing: Settings, registry: Registry) -> None:
    """Fewer labelled shadowed requests than shadow_rows decide nothing."""
    retrained(shadowing, registry)
    shadowed(registry, new_regime(100, seed=42))
    assert decide_shadow(shadowing, registry) is None


def test_a_shadow_short_of_labels_is_rejected_after_its_time(shadowing: Settings, registry: Registry) -> None:
    """Past shadow_max_seconds without enough labels the candidate is rejected with that reason."""
    retrained(shadowing, registry)
    decision = decide_shadow(shadowing, registry, now=time.time() + shadowing.retrain.shadow_max_seconds + 1)
    assert decision is not None
    assert (
        "rejected",
        "only 0 of the 300 shadowed requests it needs got labels within shadow_max_seconds (86400 s)",
        "rejected",
    ) == (decision.outcome, decision.reason, registry.get(2).status)


def test_a_shadow_worse_on_live_requests_is_rejected(shadowing: Settings, registry: Registry) -> None:
    """A candidate fitted to a regime that is gone again loses to the champion on live requests and is rejected."""
    retrained(shadowing, registry)
    shadowed(registry, make_loans(400, seed=43))  # the champion's own regime is back
    decision = decide_shadow(shadowing, registry)
    assert decision is not None
    assert ("rejected", 1) == (decision.outcome, registry.production().version)


def test_a_watch_rolls_back_a_promotion_that_does_worse(watching: Settings, registry: Registry) -> None:
    """After an automatic promotion the replaced champion is watched; when it wins on live requests the monitor
    rolls back, recorded as a rollback by the monitor."""
    shadowed(registry, make_loans(400, seed=43))
    decision = decide_shadow(watching, registry)
    promotion = registry.store.current_promotion()
    assert decision is not None
    assert ("rolled_back", 1, "rollback", "monitor") == (
        decision.outcome,
        registry.production().version,
        promotion["kind"],
        promotion["evidence"]["who"],
    )


def test_a_watch_keeps_a_promotion_that_does_better(watching: Settings, registry: Registry) -> None:
    """A new champion at least as good as the one it replaced stays, and the watch ends as kept."""
    shadowed(registry, new_regime(400, seed=42))
    decision = decide_shadow(watching, registry)
    assert decision is not None
    assert ("kept", 2) == (decision.outcome, registry.production().version)


def test_a_worse_version_promoted_by_hand_with_watch_is_rolled_back(
    shadowing: Settings, registry: Registry, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`driftline promote 2 --watch 300` of a version fitted to a regime that is gone: once 300 watched requests of
    the old regime have labels, the monitor's decision puts version 1 back."""
    shadowing.retrain.shadow_rows = 5000  # the candidate only waits in shadow; the promotion is the operator's
    retrained(shadowing, registry)
    main(["promote", "2", "--watch", "300", "--config", str(config_file)])
    capsys.readouterr()
    shadowed(registry, make_loans(400, seed=43))
    decision = decide_shadow(shadowing, registry)
    assert decision is not None
    assert ("rolled_back", 1) == (decision.outcome, registry.production().version)


def test_an_estimated_drop_rolls_back_before_all_watched_rows_have_labels(
    watching: Settings, registry: Registry
) -> None:
    """With the new champion's estimate below its threshold, 250 of the 300 watched requests (at least
    watch_early_rows) suffice to roll back a worse promotion, and the evidence says so."""
    shadowed(registry, make_loans(250, seed=43))
    decision = decide_shadow(watching, registry, check=estimating(2, alert=True))
    assert decision is not None
    assert ("rolled_back", 1, 250, 0.7) == (
        decision.outcome,
        registry.production().version,
        decision.evidence["rows"],
        decision.evidence["estimate"]["threshold"],
    )


def test_without_an_estimated_drop_a_watch_waits_for_all_its_rows(watching: Settings, registry: Registry) -> None:
    """An estimate within its threshold leaves a watch short of its rows waiting, however worse the new champion."""
    shadowed(registry, make_loans(250, seed=43))
    assert decide_shadow(watching, registry, check=estimating(2, alert=False)) is None


def test_an_estimated_drop_waits_for_watch_early_rows(watching: Settings, registry: Registry) -> None:
    """Fewer labelled watched requests than watch_early_rows decide nothing, even with the estimate down."""
    watching.retrain.watch_early_rows = 200
    shadowed(registry, make_loans(150, seed=43))
    assert decide_shadow(watching, registry, check=estimating(2, alert=True)) is None


def test_an_early_comparison_that_finds_no_loss_keeps_watching(watching: Settings, registry: Registry) -> None:
    """An estimated drop the labelled requests do not confirm neither rolls back nor ends the watch."""
    shadowed(registry, new_regime(250, seed=42))
    decide_shadow(watching, registry, check=estimating(2, alert=True))
    shadow = registry.store.active_shadow()
    assert ("running", 2) == (shadow["status"] if shadow else None, registry.production().version)


def test_an_estimate_of_another_version_brings_nothing_forward(watching: Settings, registry: Registry) -> None:
    """A check that estimated the replaced champion, not the watched one, leaves the watch waiting."""
    shadowed(registry, make_loans(250, seed=43))
    assert decide_shadow(watching, registry, check=estimating(1, alert=True)) is None
