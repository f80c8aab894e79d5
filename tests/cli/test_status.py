"""`driftline status` says what each figure is and when the next drift-triggered retrain may run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftline.cli import status
from driftline.core import Registry, Settings
from monitoring import DriftChecker, MonitorMetrics, ReportArchive
from retrain import TrainingOutcome, retrain
from retrain.loop import MonitorLoop
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


@pytest.fixture
def checked(tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome) -> dict[str, Any]:
    """One drifted check by the monitor loop, recorded in the store; its JSON."""
    settings.monitoring.min_rows = 200
    settings.retrain.consecutive_windows = 5  # no retrain: the check alone
    settings.monitoring.estimation.threshold = 0.99
    log_predictions(registry, new_regime(600, seed=42))
    loop = MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), ReportArchive(tmp_path / "r", 3))
    result = loop.check_once()
    assert result is not None
    return result.to_dict()


def test_the_last_check_shows_its_estimate_domain_auc_and_weighted_drift(
    settings: Settings, registry: Registry, checked: dict[str, Any]
) -> None:
    """Under the check's line, status shows the estimate with its band, the domain AUC and the weighted score, each
    against its threshold with its verdict."""
    estimate, domain, weighted = (checked[k] for k in ("estimated_performance", "multivariate_drift", "weighted_drift"))
    expected = (
        f"      estimated roc_auc {estimate['value']:.4f} [{estimate['lower']:.4f}, {estimate['upper']:.4f}] "
        "threshold 0.9900: alert; "
        f"domain classifier AUC {domain['auc']:.3f} threshold 0.65: {'drift' if domain['drifted'] else 'no drift'}; "
        f"weighted drift {weighted['score']:.2f} threshold 0.3: {'drift' if weighted['drifted'] else 'no drift'}"
    )
    lines = status.render(status.collect(registry, settings.retrain)).splitlines()
    assert expected == lines[lines.index("last drift checks (latest first):") + 2]


def test_the_json_status_holds_the_last_checks_estimate(
    settings: Settings, registry: Registry, checked: dict[str, Any]
) -> None:
    """`driftline status --json` carries the check's estimated performance as the check reported it."""
    recorded = status.collect(registry, settings.retrain)["last_checks"][0]["summary"]
    assert checked["estimated_performance"] == recorded["estimated_performance"]


def test_a_check_recorded_without_these_figures_shows_its_line_alone(
    settings: Settings, registry: Registry, trained: TrainingOutcome
) -> None:
    """A check recorded before the estimate and the domain classifier existed shows no empty figures line."""
    registry.store.record_check(checked_at=1.0e9, model_version=1, outcome="ok", drift_share=0.1, summary={})
    lines = status.render(status.collect(registry, settings.retrain)).splitlines()
    assert "" == lines[lines.index("last drift checks (latest first):") + 2]
