"""Grafana dashboards, Prometheus config and alert rules: structure, metric names, and promtool's own checks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "grafana" / "dashboards"
PROMETHEUS = ROOT / "prometheus"
METRICS_DOC = ROOT / "docs" / "METRICS.md"

EXPECTED_UIDS = {"serving.json": "driftline-serving", "drift.json": "driftline-drift", "model.json": "driftline-model"}
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
PANEL_TYPES = {"timeseries", "stat", "table", "bargauge", "heatmap"}
EXPECTED_ALERTS = {
    "DriftlineDatasetDrift",
    "DriftlineFeatureDrift",
    "DriftlineMultivariateDrift",
    "DriftlineWeightedDrift",
    "DriftlineDriftCheckStale",
    "DriftlineLivePerformanceDrop",
    "DriftlineEstimatedPerformanceDrop",
    "DriftlineMonitorDown",
    "DriftlineServiceDown",
    "DriftlineHighErrorRate",
    "DriftlinePredictionLogDrops",
    "DriftlineRetrainFailing",
    "DriftlineAutomaticRollback",
    "DriftlineShadowFailing",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# labels Prometheus adds to every scraped series
SCRAPE_LABELS = {"job", "instance"}
PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}
GRAFANA_VARIABLE = re.compile(r"\$\{?\w+|\[\[\w+")


def documented_metrics() -> dict[str, set[str]]:
    """Metric name -> its labels, from the tables of docs/METRICS.md (histograms also under their series names)."""
    metrics: dict[str, set[str]] = {}
    previous: set[str] = set()
    for line in METRICS_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`((?:driftline|bentoml)_\w+)`", cells[0]) if len(cells) >= 3 else []
        if len(names) != 1:
            continue
        kind, label_cell = cells[1], cells[2]
        # values are given in parentheses after a label: `endpoint` (`predict`, `predict_batch`)
        labels = set(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", label_cell)))
        if label_cell.startswith("same as above"):
            labels = set(previous)
        previous = labels
        metrics[names[0]] = labels
        if kind.startswith("histogram"):
            for suffix in HISTOGRAM_SUFFIXES:
                metrics[names[0] + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    metrics["up"] = set()
    return metrics


def strip_promql(expr: str) -> str:
    """The expression without string literals, label matchers, grouping clauses and range/offset durations."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return re.sub(r"\[[^\]]*\]", " ", expr)


def metric_names(expr: str) -> set[str]:
    """Every series name an expression selects (identifiers that are neither functions nor keywords)."""
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", strip_promql(expr)):
        name, is_call = match.group(1), match.group(2)
        if not is_call and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names in its matchers) for every `name{...}` selector of an expression."""
    found = []
    for name, matchers in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        found.append((name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Label names used by by/without/on/ignoring/group_left/group_right clauses."""
    labels: set[str] = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    return labels


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every target of every panel."""
    return [
        (name, panel["title"], target.get("expr", ""))
        for name, board in load_dashboards().items()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def all_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every dashboard target and alert rule."""
    exprs = [(f"{name} / {title}", expr) for name, title, expr in dashboard_exprs()]
    return exprs + [(f"alerts.yml / {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs promtool from the repository root and prints its output (shown when the test fails)."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is not on PATH (Debian package: prometheus)"
    result = subprocess.run(
        [promtool, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    print(result.stdout)
    print(result.stderr)
    return result


def test_metrics_doc_is_parsed() -> None:
    """The documented metrics include both targets' metrics with their labels."""
    metrics = documented_metrics()

    assert {"feature"} == metrics["driftline_feature_drifted"]
    assert {"endpoint", "http_response_code", "service_name", "service_version", "runner_name"} == metrics[
        "bentoml_service_request_duration_seconds_bucket"
    ] - {"le"}
    assert {"feature", "test", "direction"} == metrics["driftline_feature_drift_test_info"]
    assert {"endpoint"} == metrics["driftline_request_rows"]
    assert "driftline_prediction_score_sum" in metrics


def test_dashboards_have_the_expected_uids() -> None:
    """The three dashboard files exist with their fixed uids, on the current schema and without template variables."""
    boards = load_dashboards()

    expected_uids, no_variables, grafana_10_schema = EXPECTED_UIDS, [], 38
    assert expected_uids == {name: board["uid"] for name, board in boards.items()}
    for board in boards.values():
        assert no_variables == board["templating"]["list"]
        assert grafana_10_schema == board["schemaVersion"]


def test_panels_use_the_prometheus_datasource() -> None:
    """Every panel and every target names the provisioned Prometheus datasource."""
    for name, board in load_dashboards().items():
        for panel in board["panels"]:
            where = f"{name} / {panel['title']}"
            assert (where, DATASOURCE) == (where, panel["datasource"])
            assert (where, True) == (where, bool(panel["targets"]))
            for target in panel["targets"]:
                assert (where, DATASOURCE) == (where, target["datasource"])


def test_panels_have_unique_ids_types_and_positions() -> None:
    """Panel ids are unique per dashboard, types are known, and every panel has a position on a 24-column grid."""
    for name, board in load_dashboards().items():
        ids = [panel["id"] for panel in board["panels"]]
        assert (name, len(ids)) == (name, len(set(ids)))
        for panel in board["panels"]:
            where = f"{name} / {panel['title']}"
            assert (where, True) == (where, panel["type"] in PANEL_TYPES)
            grid = panel["gridPos"]
            assert (where, True) == (where, grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24)


def test_targets_have_an_expr_and_no_grafana_variables() -> None:
    """Every target has a non-empty expr with unique refIds per panel and no Grafana-only variables."""
    for name, board in load_dashboards().items():
        for panel in board["panels"]:
            where = f"{name} / {panel['title']}"
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert (where, len(ref_ids)) == (where, len(set(ref_ids)))
            for target in panel["targets"]:
                assert (where, True) == (where, bool(target.get("expr", "").strip()))
                assert (where, []) == (where, GRAFANA_VARIABLE.findall(target["expr"]))


def test_exprs_use_only_documented_metrics() -> None:
    """Every metric in a dashboard or alert expression is documented in docs/METRICS.md (or is `up`)."""
    documented = documented_metrics()

    for where, expr in all_exprs():
        names = metric_names(expr)
        assert (where, True) == (where, bool(names))
        assert (where, set()) == (where, names - documented.keys())


def test_exprs_use_only_documented_labels() -> None:
    """Label matchers name labels of their metric; grouping clauses name labels some documented metric has."""
    documented = documented_metrics()
    every_label = set().union(*documented.values()) | SCRAPE_LABELS

    for where, expr in all_exprs():
        for name, labels in selectors(expr):
            assert (where, name, set()) == (where, name, labels - documented[name] - SCRAPE_LABELS)
        assert (where, set()) == (where, grouping_labels(expr) - every_label)


def test_alert_rules_are_complete() -> None:
    """Every alert exists once, with a `for:`, a severity label and summary/description annotations."""
    rules = alert_rules()

    assert sorted(EXPECTED_ALERTS) == sorted(rule["alert"] for rule in rules)
    for rule in rules:
        where = rule["alert"]
        assert (where, True) == (where, "for" in rule)
        assert (where, True) == (where, rule["labels"]["severity"] in {"info", "warning", "critical"})
        assert (where, {"summary", "description"}) == (where, set(rule["annotations"]))


def test_every_alert_has_a_unit_test() -> None:
    """The promtool unit tests name every alert, with a case where it fires and one where it does not."""
    tests = yaml.safe_load((PROMETHEUS / "tests" / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]

    expected = EXPECTED_ALERTS
    assert expected == {case["alertname"] for case in cases if case.get("exp_alerts")}
    assert expected == {case["alertname"] for case in cases if not case.get("exp_alerts")}


def test_scrape_config_targets() -> None:
    """Prometheus scrapes the service on :3000 and the monitor on :3001 every 5 s and loads alerts.yml."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())

    expected_global = {"scrape_interval": "5s", "evaluation_interval": "5s"}
    expected_rule_files = ["alerts.yml"]
    expected_targets = {"driftline-service": ["127.0.0.1:3000"], "driftline-monitor": ["127.0.0.1:3001"]}
    assert expected_global == config["global"]
    assert expected_rule_files == config["rule_files"]
    assert expected_targets == {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }


def test_promtool_check_config() -> None:
    """promtool accepts the scrape config and the rule file it loads."""
    succeeded = 0
    assert succeeded == run_promtool("check", "config", PROMETHEUS / "prometheus.yml").returncode


def test_promtool_check_rules() -> None:
    """promtool accepts the alert rules."""
    succeeded = 0
    assert succeeded == run_promtool("check", "rules", PROMETHEUS / "alerts.yml").returncode


def test_promtool_unit_tests() -> None:
    """The alert unit tests pass."""
    succeeded = 0
    assert succeeded == run_promtool("test", "rules", PROMETHEUS / "tests" / "alerts_test.yml").returncode


def test_dashboard_exprs_are_valid_promql(tmp_path: Path) -> None:
    """Every dashboard expression parses as PromQL (checked by promtool as recording rules)."""
    rules = [
        {"record": f"dashboard:expr_{index}", "expr": expr} for index, (_, _, expr) in enumerate(dashboard_exprs())
    ]
    rule_file = tmp_path / "dashboard_exprs.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))

    succeeded = 0
    assert succeeded == run_promtool("check", "rules", rule_file).returncode
