from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.core import Registry, Settings, retrain_backoff
from retrain import TrainingOutcome, retrain
from retrain.trigger import RetrainTrigger
from tests.factories import make_loans
from tests.monitoring.conftest import log_predictions


def new_regime(rows: int, seed: int) -> pd.DataFrame:
    """Live loans whose defaults now follow the region, not income or debt: the champion's rule no longer holds."""
    frame = make_loans(rows, seed=seed, income_shift=20)
    rng = np.random.default_rng(seed)
    frame["default"] = ((frame["region"].isin(["north", "east"])) ^ (rng.random(rows) < 0.1)).astype(int)
    return frame


@pytest.fixture
def ready(settings: Settings, trained: TrainingOutcome) -> Settings:
    settings.retrain.min_labeled_rows = 300
    return settings


def test_a_better_candidate_is_promoted_with_its_evidence(ready: Settings, registry: Registry) -> None:
    """After a change of regime the candidate beats the champion on the newest labels and becomes production."""
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    old_reference = registry.get(1).hashes["reference.parquet"]
    decision = retrain(ready, registry, trigger="test", drift={"drift_share": 0.6})
    evidence = decision.evidence
    assert ("promoted", 1, 2) == (decision.outcome, decision.champion_version, decision.candidate_version)
    assert evidence["candidate_metrics"]["roc_auc"] > evidence["champion_metrics"]["roc_auc"] + 0.1
    assert {"reference": 500, "live_train": 1050, "holdout": 450} == evidence["rows"]
    assert 2 == registry.production().version
    promotion = registry.store.promotion_history()[-1]
    assert ("auto", 1, {"drift_share": 0.6}) == (
        promotion["kind"],
        promotion["previous_version"],
        promotion["evidence"]["drift"],
    )
    assert old_reference != registry.get(2).hashes["reference.parquet"]
    assert "succeeded" == registry.store.list_runs()[0]["status"]


def test_a_scorer_name_compares_champion_and_candidate_with_larger_better(ready: Settings, registry: Registry) -> None:
    """On neg_log_loss the candidate fitted to the new regime scores higher (a smaller loss) and is promoted."""
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    ready.model.metric = "neg_log_loss"
    decision = retrain(ready, registry, trigger="test")
    candidate, champion = (decision.evidence[f"{side}_metrics"] for side in ("candidate", "champion"))
    assert ("promoted", "neg_log_loss") == (decision.outcome, decision.evidence["metric"])
    assert champion["neg_log_loss"] < candidate["neg_log_loss"] < 0
    assert -candidate["log_loss"] == pytest.approx(candidate["neg_log_loss"])


def test_a_candidate_that_cannot_beat_the_champion_is_rejected(ready: Settings, registry: Registry) -> None:
    """With shuffled labels nothing can be learnt: the candidate is kept as rejected, production stays."""
    live = make_loans(1500, seed=42)
    shuffled = live["default"].sample(frac=1.0, random_state=1).to_numpy()
    log_predictions(registry, live, labels=pd.Series(shuffled))
    ready.retrain.min_gain = 0.02
    decision = retrain(ready, registry, trigger="test")
    assert ("rejected", 2) == (decision.outcome, decision.candidate_version)
    assert 1 == registry.production().version
    assert "rejected" == registry.get(2).status
    assert decision.reason == registry.get(2).status_reason
    assert decision.reason.startswith("rejected: gain ")
    assert 1 == len(registry.store.promotion_history())


@pytest.mark.parametrize(("min_gain", "outcome"), [(0.02, "rejected"), (0.005, "promoted")])
def test_the_bootstrap_lower_bound_must_clear_min_gain(
    ready: Settings, registry: Registry, monkeypatch: pytest.MonkeyPatch, min_gain: float, outcome: str
) -> None:
    """A clear point gain is not enough: the gain's lower bound (here set to 0.01) must be above min_gain too."""
    from retrain import challenger

    monkeypatch.setattr(challenger, "bootstrap_gain", lambda *args, **kwargs: (0.05, 0.01))
    live = new_regime(1500, seed=44)
    log_predictions(registry, live, labels=live["default"])
    ready.retrain.min_gain = min_gain
    decision = retrain(ready, registry, trigger="test")
    gained = decision.evidence["candidate_metrics"]["roc_auc"] - decision.evidence["champion_metrics"]["roc_auc"]
    assert (outcome, True) == (decision.outcome, gained > 0.1)
    assert 0.01 == decision.evidence["bootstrap"]["gain_lower_bound"]


def test_too_few_labels_fail_the_run_and_change_nothing(ready: Settings, registry: Registry) -> None:
    """The failure is recorded with its reason and returned, not raised."""
    live = make_loans(100, seed=43)
    log_predictions(registry, live, labels=live["default"])
    decision = retrain(ready, registry, trigger="test")
    assert ("failed", "only 100 labelled live rows; a retrain needs at least 300") == (
        decision.outcome,
        decision.reason,
    )
    assert [1] == [v.version for v in registry.versions()]
    assert ("failed", decision.reason) == (
        registry.store.list_runs()[0]["status"],
        registry.store.list_runs()[0]["message"],
    )


def test_the_trigger_needs_consecutive_drift_cooldown_and_labels(ready: Settings, registry: Registry) -> None:
    """K drifted windows in a row (an ok window resets), no retrain within the cool-down, enough labels."""
    ready.retrain.consecutive_windows = 2
    ready.retrain.cooldown_seconds = 600
    trigger = RetrainTrigger(ready.retrain)

    def observe(outcome: str, labels: int) -> str | None:
        return trigger.observe(outcome, labels, retrain_backoff(ready.retrain, registry.store))

    assert None is observe("drift", 1000)
    assert None is observe("ok", 1000)
    assert None is observe("drift", 1000)
    assert None is observe("skipped", 1000)
    assert None is observe("drift", 10)
    assert observe("drift", 1000) == "drift in 2 consecutive windows"
    registry.store.start_run("drift")
    observe("drift", 1000)
    assert None is observe("drift", 1000)
