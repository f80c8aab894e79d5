"""The whole observability path on real parts: bentoml serve, the monitor and Prometheus on real flights traffic.

Summer flights are sent against a model trained on January-February, with their true labels. Then every panel query
of every dashboard must return data from Prometheus, a drift alert must fire, and the monitor's HTML report must
show its drift table in a real browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from driftline.cli.prometheus import local_config
from driftline.core import Registry, Store, load_dataset, load_settings
from driftline.core.settings import DEFAULT_CONFIG
from retrain import train
from tests.processes import free_port, start_driftline, start_prometheus, stop_process_group, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]


def prometheus_config(folder: Path, service: str, monitor: str) -> Path:
    """The shipped config and rules, scraping every second, with every alert's `for` cut to 0s."""
    path = local_config(folder, service=service, monitor=monitor)
    config = yaml.safe_load(path.read_text())
    config["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
    rules = yaml.safe_load((ROOT / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    (folder / "alerts.yml").write_text(yaml.safe_dump(rules))
    config["rule_files"] = [str(folder / "alerts.yml")]
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="driftline-e2e-"))
    env = {
        "DRIFTLINE_CONFIG": str(DEFAULT_CONFIG),
        "DRIFTLINE_STORE__URL": f"sqlite:///{folder / 'store.db'}",
        "DRIFTLINE_STORE__MODEL_DIR": str(folder / "bentoml"),
        "DRIFTLINE_MODEL__PARAMS": '{"max_iter": 50}',
        "DRIFTLINE_MONITORING__WINDOW_ROWS": "1500",
        "DRIFTLINE_MONITORING__MIN_ROWS": "300",
        "DRIFTLINE_MONITORING__SAMPLE_ROWS": "1500",
        "DRIFTLINE_MONITORING__INTERVAL_SECONDS": "2",
        "DRIFTLINE_MONITORING__REPORTS_DIR": str(folder / "reports"),
        "DRIFTLINE_SERVING__LOG_FLUSH_SECONDS": "0.2",
    }
    os.environ.update(env)
    try:
        settings = load_settings()
    finally:
        for key in [k for k in os.environ if k.startswith("DRIFTLINE_")]:
            del os.environ[key]
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry, trigger="test")
    service_port, monitor_port, prometheus_port = free_port(), free_port(), free_port()
    urls = {
        "service": f"http://127.0.0.1:{service_port}",
        "monitor": f"http://127.0.0.1:{monitor_port}",
        "prometheus": f"http://127.0.0.1:{prometheus_port}",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(start_driftline("serve", service_port, env=env, log=folder / "service.log"))
        processes.append(start_driftline("monitor", monitor_port, env=env, log=folder / "monitor.log"))
        config = prometheus_config(folder, f"127.0.0.1:{service_port}", f"127.0.0.1:{monitor_port}")
        log = folder / "prometheus.log"
        processes.append(start_prometheus(config, prometheus_port, data=folder / "tsdb", log=log))
        drive_summer_traffic(urls["service"], settings)
        yield {"urls": urls, "folder": folder, "registry": registry}
    finally:
        for process in processes:
            stop_process_group(process)
        registry.store.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def drive_summer_traffic(url: str, settings: Any) -> None:
    """1,500 July flights in requests of 25 rows, their true labels, one upload, and a few bad requests."""
    live = load_dataset(settings.data).live
    july = live[live["time_hour"].dt.month == 7].sample(1500, random_state=0)
    features = list(settings.data.features.numeric) + list(settings.data.features.categorical)
    rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in july[features].to_dict("records")]
    labels: list[dict[str, Any]] = []
    with httpx.Client(timeout=60) as client:
        for start_row in range(0, len(rows), 25):
            answer = client.post(f"{url}/predict", json=rows[start_row : start_row + 25]).json()
            truth = july["late"].iloc[start_row : start_row + 25].tolist()
            labels += [
                {"request_id": p["request_id"], "label": int(t)}
                for p, t in zip(answer["predictions"], truth, strict=True)
            ]
        assert 200 == client.post(f"{url}/feedback", json=labels).status_code
        upload = july[features].head(200).to_csv(index=False).encode()
        assert 200 == client.post(f"{url}/predict_batch", files={"file": ("july.csv", upload)}).status_code
        for _ in range(3):
            assert 400 == client.post(f"{url}/predict", json={"bad": 1}).status_code


def dashboard_queries() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels = list(dashboard.get("panels", []))
        for panel in list(panels):
            panels.extend(panel.get("panels", []))
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((path.stem, panel.get("title", "?"), target["expr"]))
    return found


def test_the_monitor_sees_summer_drift_and_live_performance(stack: dict[str, Any]) -> None:
    """Within seconds the monitor's last check reports dataset drift in the weather and a live metric."""
    monitor = stack["urls"]["monitor"]

    def drifted() -> dict[str, Any] | None:
        response = httpx.get(f"{monitor}/checks/latest", timeout=5)
        body = response.json() if response.status_code == 200 else {}
        return body if body.get("outcome") == "drift" and body.get("live_performance", {}).get("value") else None

    check = wait_for("a drifted check with a live metric", drifted, 90)
    assert {"temp", "dewp"} <= set(check["drifted_features"])
    assert 0.5 < check["live_performance"]["value"] < 1.0


def test_the_monitor_estimates_performance_from_the_logged_outputs(stack: dict[str, Any]) -> None:
    """The last check carries a CBPE estimate of the ROC AUC with its band and a threshold from the holdout."""
    monitor = stack["urls"]["monitor"]

    def estimated() -> dict[str, Any] | None:
        response = httpx.get(f"{monitor}/checks/latest", timeout=5)
        body = response.json() if response.status_code == 200 else {}
        estimate = body.get("estimated_performance") or {}
        return estimate if estimate.get("value") is not None else None

    estimate = wait_for("a check with an estimated metric", estimated, 90)
    assert ("roc_auc", "cbpe", True) == (
        estimate["metric"],
        estimate["method"],
        estimate["lower"] <= estimate["value"] <= estimate["upper"],
    )


def test_every_dashboard_panel_query_returns_data(stack: dict[str, Any]) -> None:
    """Each panel's PromQL, run against the Prometheus that scraped this run, returns at least one series."""
    prometheus = stack["urls"]["prometheus"]
    queries = dashboard_queries()
    assert len(queries) >= 20

    def scraped() -> bool:
        body = httpx.get(f"{prometheus}/api/v1/query", params={"query": "driftline_dataset_drift == 1"}).json()
        return bool(body["data"]["result"])

    wait_for("Prometheus to scrape a drifted check", scraped, 90)
    time.sleep(8)  # a few more scrapes, so rate() over [1m] has points to work with

    def empty_queries() -> list[tuple[str, str, str]]:
        empty = []
        for dashboard, title, expr in queries:
            body = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
            assert "success" == body["status"], (dashboard, title, expr, body)
            if not body["data"]["result"]:
                empty.append((dashboard, title, expr))
        return empty

    last: list[list[tuple[str, str, str]]] = []

    def all_answer() -> bool:
        last.append(empty_queries())
        return not last[-1]

    with contextlib.suppress(AssertionError):  # timing out leaves the queries still empty in `last`
        wait_for("every panel query to return data", all_answer, 30, every=2)
    assert [] == last[-1]


def test_a_drift_alert_fires(stack: dict[str, Any]) -> None:
    """The shipped rules (with `for` cut to 0s) put a drift alert in the firing state."""
    prometheus = stack["urls"]["prometheus"]

    def firing() -> set[str]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

    names = wait_for("a firing drift alert", lambda: firing() & {"DriftlineDatasetDrift", "DriftlineFeatureDrift"}, 90)
    assert names


def test_the_html_report_shows_the_drift_table_in_a_browser(stack: dict[str, Any], tmp_path: Path) -> None:
    """Headless Chromium renders the latest report: the drift summary table lists drifted weather columns."""
    monitor = stack["urls"]["monitor"]
    listing = wait_for(
        "a saved report", lambda: re.findall(r'href="/reports/([^"]+)"', httpx.get(f"{monitor}/reports/").text), 60
    )
    report = tmp_path / "report.html"
    report.write_bytes(httpx.get(f"{monitor}/reports/{listing[0]}", timeout=30).content)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is not installed (scripts/system-deps.sh installs it)"
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    assert "Data Drift Summary" in text
    assert re.search(r"temp num Detected Wasserstein distance", text)
    assert "<table" in body
