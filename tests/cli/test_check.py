from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.cli.main import main
from driftline.core import Registry
from retrain import TrainingOutcome
from tests.factories import make_loans
from tests.monitoring.conftest import log_predictions


def run_check(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["check", "--config", str(config)])
    return code, json.loads(capsys.readouterr().out)


def test_check_exits_1_on_drift_and_prints_the_evidence(
    config_file: Path,
    registry: Registry,
    trained: TrainingOutcome,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A drifted window: exit 1, JSON with per-feature tests, the share, rows and the reference hash."""
    monkeypatch.setenv("DRIFTLINE_MONITORING__MIN_ROWS", "100")
    monkeypatch.setenv("DRIFTLINE_MONITORING__DRIFT_SHARE", "0.2")
    monkeypatch.setenv("DRIFTLINE_MONITORING__REPORTS_DIR", str(tmp_path / "reports"))
    log_predictions(registry, make_loans(500, seed=31, income_shift=40))
    code, result = run_check(config_file, capsys)
    assert (1, "drift", 500) == (code, result["outcome"], result["rows"])
    assert "income" in result["drifted_features"]
    assert {"feature", "kind", "test", "direction", "score", "threshold", "drifted", "importance", "weight"} == set(
        result["features"][0]
    )
    assert 64 == len(result["reference_sha256"]) and 1 == result["model_version"]
    [report] = (tmp_path / "reports").glob("check-*.html")
    assert "income" in report.read_text()


def test_check_exits_0_when_the_window_is_too_small(
    config_file: Path,
    registry: Registry,
    trained: TrainingOutcome,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """No rows yet: a skipped check with its reason, exit 0."""
    monkeypatch.setenv("DRIFTLINE_MONITORING__REPORTS_DIR", str(tmp_path / "reports"))
    code, result = run_check(config_file, capsys)
    assert (0, "skipped") == (code, result["outcome"])
    assert "at least 500 are needed" in result["reason"]
