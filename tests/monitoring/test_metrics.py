from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from driftline.core import Registry, RetrainBackoff, Settings
from monitoring import DriftChecker, MonitorMetrics, ReportArchive, monitor_app
from retrain import TrainingOutcome
from retrain.loop import MonitorLoop
from tests.factories import make_loans
from tests.monitoring.conftest import log_predictions


@pytest.fixture
def loop(tmp_path: Path, settings: Settings, registry: Registry, trained: TrainingOutcome) -> MonitorLoop:
    settings.monitoring.min_rows = 100
    settings.monitoring.drift_share = 0.2
    archive = ReportArchive(tmp_path / "reports", keep=2)
    return MonitorLoop(settings, DriftChecker(settings, registry), MonitorMetrics(), archive)


def value(metrics: MonitorMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_a_check_publishes_scores_thresholds_tests_and_flags(loop: MonitorLoop, registry: Registry) -> None:
    """Per-feature gauges carry the score, threshold, test and drifted flag; dataset gauges follow."""
    log_predictions(registry, make_loans(400, seed=21, income_shift=40))
    started = time.time()
    loop.check_once()
    m = loop.metrics
    assert value(m, "driftline_feature_drifted", feature="income") == 1.0
    assert value(m, "driftline_feature_drifted", feature="age") == 0.0
    assert value(m, "driftline_feature_drift_threshold", feature="income") is not None
    assert (
        value(m, "driftline_feature_drift_test_info", feature="income", test="K-S p_value", direction="p_value") == 1.0
    )
    assert (
        value(m, "driftline_dataset_drift"),
        value(m, "driftline_window_rows"),
        value(m, "driftline_checks_total", outcome="drift"),
    ) == (1.0, 400.0, 1.0)
    # Bounded by the time the check took, not by a fixed figure a loaded machine can exceed.
    assert value(m, "driftline_seconds_since_last_check") <= time.time() - started  # type: ignore[operator]


def test_each_feature_importance_of_the_production_version_is_a_gauge(loop: MonitorLoop, registry: Registry) -> None:
    """driftline_feature_importance carries the importance stored with the version, per feature."""
    log_predictions(registry, make_loans(300, seed=26))
    loop.check_once()
    stored = registry.production().details["feature_importance"]["mean"]
    assert stored == {name: value(loop.metrics, "driftline_feature_importance", feature=name) for name in stored}


def test_the_weighted_score_and_the_domain_classifier_auc_are_gauges(loop: MonitorLoop, registry: Registry) -> None:
    """The check's importance-weighted score and domain classifier AUC, each beside its threshold."""
    log_predictions(registry, make_loans(300, seed=27, income_shift=40))
    found = loop.check_once().to_dict()  # type: ignore[union-attr]
    m = loop.metrics
    assert (
        found["weighted_drift"]["score"],
        0.3,
        1.0,
        found["multivariate_drift"]["auc"],
        0.65,
        1.0,
    ) == (
        value(m, "driftline_weighted_drift_score"),
        value(m, "driftline_weighted_drift_threshold"),
        value(m, "driftline_weighted_drift"),
        value(m, "driftline_multivariate_drift_auc"),
        value(m, "driftline_multivariate_drift_threshold"),
        value(m, "driftline_multivariate_drift"),
    )


def test_the_report_shows_each_feature_importance_beside_its_drift(loop: MonitorLoop, registry: Registry) -> None:
    """Above Evidently's page, the rendered report lists each feature's drift with its importance and weight."""
    client = TestClient(monitor_app(loop.metrics, loop.archive, loop.last_check))
    log_predictions(registry, make_loans(300, seed=28, income_shift=40))
    found = loop.check_once().to_dict()  # type: ignore[union-attr]
    [name] = loop.archive.list()
    income = next(f for f in found["features"] if f["feature"] == "income")
    row = (
        f"<tr><td>income</td><td>numeric</td><td>{income['test']}</td><td>{income['score']:.4g}</td>"
        f"<td>{income['threshold']:.4g}</td><td>drifted</td><td>{income['importance']:.4g}</td>"
        f"<td>{income['weight']:.4g}</td></tr>"
    )
    assert row in client.get(f"/reports/{name}").text


def test_a_failing_check_is_counted_and_the_loop_goes_on(loop: MonitorLoop, registry: Registry) -> None:
    """An error inside a check becomes outcome=failed; the next check works."""
    original = loop.checker.run
    loop.checker.run = lambda now=None: (_ for _ in ()).throw(RuntimeError("store away"))  # type: ignore[method-assign]
    assert loop.check_once() is None
    assert value(loop.metrics, "driftline_checks_total", outcome="failed") == 1.0
    loop.checker.run = original  # type: ignore[method-assign]
    log_predictions(registry, make_loans(150, seed=22))
    assert loop.check_once() is not None
    completed = sum(value(loop.metrics, "driftline_checks_total", outcome=o) or 0 for o in ("ok", "drift"))
    assert completed == 1.0


def test_the_http_surface_serves_metrics_reports_and_the_last_check(loop: MonitorLoop, registry: Registry) -> None:
    """/metrics in Prometheus text, /reports/ latest first (only the newest kept), /checks/latest as JSON."""
    client = TestClient(monitor_app(loop.metrics, loop.archive, loop.last_check))
    assert client.get("/checks/latest").status_code == 404
    log_predictions(registry, make_loans(300, seed=23))
    for _ in range(3):
        loop.check_once()
    names = loop.archive.list()
    assert len(names) == 2 and names == sorted(names, reverse=True)
    listing = client.get("/reports/").text
    assert listing.index(names[0]) < listing.index(names[1])
    report = client.get(f"/reports/{names[0]}")
    assert report.status_code == 200 and "text/html" in report.headers["content-type"]
    assert client.get("/reports/..%2Fdriftline.yaml").status_code == 404
    assert "driftline_drift_share " in client.get("/metrics").text
    assert client.get("/checks/latest").json()["rows"] == 300


def test_a_check_publishes_the_estimate_its_band_threshold_and_alert(loop: MonitorLoop, registry: Registry) -> None:
    """The estimated metric and its bounds are gauges by metric; an estimate above its threshold is no alert."""
    loop.settings.monitoring.estimation.threshold = 0.2
    log_predictions(registry, make_loans(300, seed=25))
    estimate = loop.check_once().estimated  # type: ignore[union-attr]
    m = loop.metrics
    published = tuple(
        value(m, f"driftline_estimated_performance{suffix}", metric="roc_auc")
        for suffix in ("", "_lower", "_upper", "_threshold", "_alert")
    )
    assert (estimate.value, estimate.lower, estimate.upper, 0.2, 0.0) == published  # type: ignore[union-attr]


def test_the_report_shows_the_estimate_above_the_drift(loop: MonitorLoop, registry: Registry) -> None:
    """The rendered page carries the check's estimated metric and its value."""
    client = TestClient(monitor_app(loop.metrics, loop.archive, loop.last_check))
    log_predictions(registry, make_loans(300, seed=26))
    estimate = loop.check_once().estimated  # type: ignore[union-attr]
    [name] = loop.archive.list()
    page = client.get(f"/reports/{name}").text
    assert f"<td>roc_auc (CBPE)</td><td>{estimate.value:.4f}</td>" in page  # type: ignore[union-attr]


def test_a_report_is_rendered_when_first_opened_and_then_served_from_disk(
    loop: MonitorLoop, registry: Registry
) -> None:
    """A check stores its samples only; the first GET renders Evidently's page with the check's columns."""
    client = TestClient(monitor_app(loop.metrics, loop.archive, loop.last_check))
    log_predictions(registry, make_loans(300, seed=24, income_shift=40))
    loop.check_once()
    [name] = loop.archive.list()
    assert not (loop.archive.folder / name).exists()  # nothing rendered during the check
    page = client.get(f"/reports/{name}")
    assert page.status_code == 200 and "income" in page.text and "debt_ratio" in page.text
    rendered = loop.archive.folder / name
    assert rendered.is_file() and [name] == loop.archive.list()
    stamp = rendered.stat().st_mtime_ns
    assert page.text == client.get(f"/reports/{name}").text and stamp == rendered.stat().st_mtime_ns


def test_a_damaged_stored_comparison_is_a_500_naming_it_and_the_monitor_goes_on(
    loop: MonitorLoop, registry: Registry
) -> None:
    client = TestClient(monitor_app(loop.metrics, loop.archive, loop.last_check))
    log_predictions(registry, make_loans(300, seed=25))
    loop.check_once()
    [name] = loop.archive.list()
    (loop.archive.folder / f"{name}.parquet").write_bytes(b"not parquet")
    answer = client.get(f"/reports/{name}")
    assert answer.status_code == 500 and name in answer.json()["error"]
    assert loop.check_once() is not None and len(loop.archive.list()) == 2
    assert client.get(f"/reports/{loop.archive.list()[0]}").status_code == 200


def test_the_back_off_gauge_keeps_one_series_labelled_with_its_reason() -> None:
    """A new back-off replaces the old series: the gauge carries only the current reason."""
    metrics = MonitorMetrics()
    metrics.publish_backoff(RetrainBackoff(1000.0, 600, 0, "cooldown", "the cool-down"))
    metrics.publish_backoff(RetrainBackoff(2200.0, 1200, 1, "backoff", "1 rejected"))
    assert (None, 2200.0, 1.0) == (
        value(metrics, "driftline_next_retrain_allowed_timestamp_seconds", reason="cooldown"),
        value(metrics, "driftline_next_retrain_allowed_timestamp_seconds", reason="backoff"),
        value(metrics, "driftline_retrain_rejected_in_a_row"),
    )


def test_a_rollback_decision_is_counted_as_a_rollback() -> None:
    """A watch that rolls back counts one automatic rollback and one promotion of kind rollback."""
    metrics = MonitorMetrics()
    metrics.shadow_decided("watch", "rolled_back", {"metric": "roc_auc", "champion_metric": 0.6, "shadow_metric": 0.7})
    assert (1.0, 1.0) == (
        value(metrics, "driftline_automatic_rollbacks_total"),
        value(metrics, "driftline_promotions_total", kind="rollback"),
    )


def test_a_shadow_decision_publishes_both_models_metric() -> None:
    """The champion's and the shadow's metric on the compared requests are gauges labelled by model."""
    metrics = MonitorMetrics()
    metrics.shadow_decided("candidate", "promoted", {"metric": "roc_auc", "champion_metric": 0.6, "shadow_metric": 0.7})
    assert (0.6, 0.7) == (
        value(metrics, "driftline_shadow_comparison_metric", model="champion", metric="roc_auc"),
        value(metrics, "driftline_shadow_comparison_metric", model="shadow", metric="roc_auc"),
    )


def test_the_running_shadow_and_its_progress_are_gauges() -> None:
    """The shadow's version (by purpose), its labelled requests and those it needs."""
    metrics = MonitorMetrics()
    metrics.publish_shadow({"version": 3, "purpose": "candidate", "labelled_rows": 40, "needed_rows": 500})
    assert (3.0, 40.0, 500.0) == (
        value(metrics, "driftline_shadow_model_version", purpose="candidate"),
        value(metrics, "driftline_shadow_labelled_rows"),
        value(metrics, "driftline_shadow_needed_rows"),
    )


def test_without_a_shadow_the_gauges_say_none_and_no_comparison_yet() -> None:
    """Before any shadow, the version gauge is 0 under purpose "none" and both models' metric is NaN."""
    metrics = MonitorMetrics()
    metrics.publish_shadow(None)
    champion = value(metrics, "driftline_shadow_comparison_metric", model="champion", metric="none")
    assert (0.0, True) == (
        value(metrics, "driftline_shadow_model_version", purpose="none"),
        champion is not None and math.isnan(champion),
    )
