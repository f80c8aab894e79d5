from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftline.cli.main import main
from driftline.core import Registry, Store, load_settings
from retrain import TrainingOutcome
from tests.factories import CATEGORICAL, NUMERIC, make_loans, write_amounts_config
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


@pytest.fixture
def regression_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, Any], float]]:
    """`driftline train` and `driftline check` on a user's regression CSV with RMSE as the metric, unlabelled
    traffic logged between them: the check's JSON and the window's realized RMSE."""
    config = write_amounts_config(tmp_path, 2000, model__estimator="sklearn.linear_model.Ridge", model__metric="rmse")
    monkeypatch.setenv("DRIFTLINE_MONITORING__MIN_ROWS", "200")
    monkeypatch.setenv("DRIFTLINE_MONITORING__REPORTS_DIR", str(tmp_path / "reports"))
    assert 0 == main(["train", "--config", str(config)])
    capsys.readouterr()
    settings = load_settings(config)
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    live = pd.read_csv(tmp_path / "amounts.csv").sample(800, random_state=4)
    log_predictions(registry, live)
    outputs = registry.load(1).predict_rows(live[NUMERIC + CATEGORICAL].to_dict("records"))
    errors = live["amount"].to_numpy() - [o["prediction"] for o in outputs]
    _, result = run_check(config, capsys)
    yield result, float(np.sqrt(np.mean(errors**2)))
    registry.store.dispose()


def test_a_regression_csv_gets_a_dle_estimate_of_its_rmse(regression_check: tuple[dict[str, Any], float]) -> None:
    """On a user's regression CSV the check estimates RMSE from the stored nanny model, within 15 % of the truth."""
    result, realized = regression_check
    estimate = result["estimated_performance"]
    assert ("dle", "rmse", True) == (
        estimate["method"],
        estimate["metric"],
        abs(estimate["value"] - realized) < 0.15 * realized,
    )


def test_a_regression_csv_check_finds_no_multivariate_or_weighted_drift_in_unchanged_traffic(
    regression_check: tuple[dict[str, Any], float],
) -> None:
    """Rows of the user's own regression CSV served again: the domain classifier and the weighted score stay quiet."""
    result, _ = regression_check
    assert (False, False) == (result["multivariate_drift"]["drifted"], result["weighted_drift"]["drifted"])
