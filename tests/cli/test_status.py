"""`driftline status` says what each figure is and when the next drift-triggered retrain may run."""

from __future__ import annotations

from driftline.cli import status
from driftline.core import Registry, Settings
from retrain import TrainingOutcome, retrain
from tests.monitoring.conftest import log_predictions
from tests.retrain.test_challenger import new_regime


def version_line(text: str, version: int) -> str:
    return next(line for line in text.splitlines() if line.lstrip(" *").startswith(f"v{version} "))


def test_a_trained_version_is_shown_beside_its_dummy_baseline(
    settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """Version 1 was compared with a dummy model, and its line says so."""
    collected = status.collect(registry, settings.retrain)
    value = collected["versions"][0]["value"]
    expected = f"roc_auc {value:.4f} vs dummy baseline 0.5000"
    assert expected in version_line(status.render(collected), 1)


def test_a_retrained_version_is_shown_as_candidate_beside_the_champion(
    settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """A retrained version's figures are the candidate's and the champion's on the same holdout, named as such."""
    settings.retrain.min_labeled_rows = 300
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    decision = retrain(settings, registry, trigger="test")
    candidate, champion = (decision.evidence[f"{side}_metrics"]["roc_auc"] for side in ("candidate", "champion"))
    text = status.render(status.collect(registry, settings.retrain))
    expected = f"candidate roc_auc {candidate:.4f} vs champion v1 {champion:.4f} on the same holdout"
    assert expected in version_line(text, 2)


def test_status_says_when_the_next_drift_retrain_may_run(
    settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """After a rejected drift retrain, status shows the doubled wait and its reason."""
    store = registry.store
    store.finish_run(store.start_run("drift"), status="succeeded", details={"outcome": "rejected"})
    settings.retrain.cooldown_seconds = 600
    text = status.render(status.collect(registry, settings.retrain))
    upcoming = text.split("next drift-triggered retrain:\n")[1].splitlines()[0]
    assert "1 drift-triggered retrain rejected in a row: the cool-down of 600 s doubled to 1200 s" in upcoming


def test_status_shows_the_running_shadow_and_its_progress(
    settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """A candidate in shadow is shown with the champion it predicts beside and its labelled requests so far."""
    settings.retrain.min_labeled_rows = 300
    settings.retrain.shadow_rows = 500
    live = new_regime(1500, seed=41)
    log_predictions(registry, live, labels=live["default"])
    retrain(settings, registry, trigger="test")
    text = status.render(status.collect(registry, settings.retrain))
    shadow = text.splitlines()[text.splitlines().index("shadow:") + 1]
    assert ("   v2 (candidate beside v1)", "0/500 labelled requests") == (
        shadow.split(" since ")[0],
        shadow.rsplit(": ", 1)[1],
    )
