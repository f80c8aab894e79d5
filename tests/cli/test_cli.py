from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from driftline.cli.main import main
from tests.factories import feature_row, make_loans
from tests.processes import free_port, start_driftline, stop_process_group, wait_for


def test_train_then_status_lists_the_version_run_and_promotion(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train` reports progress and its decision; `status --json` shows version 1 in production."""
    assert main(["train", "--config", str(config_file)]) == 0
    out, err = capsys.readouterr()
    assert "version 1 promoted to production" in out and "[train] fitting" in err
    assert main(["status", "--config", str(config_file), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["production_version"] == 1
    assert [(r["status"], r["version"]) for r in status["training_runs"]] == [("succeeded", 1)]
    assert [p["kind"] for p in status["promotions"]] == ["initial"]


def test_train_if_no_production_trains_only_the_first_time(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train --if-no-production` trains on an empty store and, once a version is in production, trains nothing."""
    main(["train", "--if-no-production", "--config", str(config_file)])
    capsys.readouterr()
    main(["train", "--if-no-production", "--config", str(config_file)])
    capsys.readouterr()
    main(["status", "--config", str(config_file), "--json"])
    assert 1 == len(json.loads(capsys.readouterr().out)["training_runs"])


def test_promote_and_rollback_are_recorded_as_manual(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Promote v2 by hand, roll back to v1; the history says so, with who did it, and `status` prints it."""
    main(["train", "--config", str(config_file)])
    main(["train", "--config", str(config_file)])
    assert main(["promote", "2", "--config", str(config_file)]) == 0
    assert main(["rollback", "--config", str(config_file)]) == 0
    capsys.readouterr()
    main(["status", "--config", str(config_file)])
    text = capsys.readouterr().out
    assert "production version: 1" in text
    assert "v1 -> v2  manual" in text and "v2 -> v1  rollback" in text
    main(["status", "--config", str(config_file), "--json"])
    changes = json.loads(capsys.readouterr().out)["promotions"][1:]
    assert [("manual", "cli"), ("rollback", "cli")] == [(p["kind"], p["evidence"]["who"]) for p in changes]
    assert all(p["evidence"]["user"] and p["evidence"]["host"] for p in changes)


def test_errors_exit_2_with_one_clear_line(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad config, unknown versions and serving with nothing trained each print what is wrong."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitoring:\n  drift_share: 3\n")
    assert main(["status", "--config", str(bad)]) == 2
    assert "config field 'monitoring.drift_share'" in capsys.readouterr().err
    assert main(["promote", "7", "--config", str(config_file)]) == 2
    assert "model version 7 is not registered" in capsys.readouterr().err
    assert main(["serve", "--config", str(config_file), "--port", "1"]) == 2
    assert "run `driftline train` first" in capsys.readouterr().err


@pytest.mark.integration
def test_up_trains_the_first_model_and_serves_it(config_file: Path) -> None:
    """On an empty store `driftline up` trains, promotes, serves and monitors; a prediction comes back."""
    port, monitor_port = free_port(), free_port()
    process = start_driftline(
        "up",
        port,
        "--monitor-port",
        str(monitor_port),
        "--prometheus-port",
        str(free_port()),
        config=config_file,
        log=config_file.parent / "up.log",
        seconds=120,
    )

    def leads() -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return httpx.get(f"http://127.0.0.1:{monitor_port}/healthz", timeout=2).json().get("leader") is True
        return False

    try:
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=feature_row(make_loans(2), 0)).json()
        assert 1 == answer["model_version"]
        assert True is wait_for("the monitor to hold the lease", leads, 60, every=0.3)
    finally:
        stop_process_group(process)


@pytest.mark.integration
def test_bentoml_build_packages_the_service(tmp_path: Path) -> None:
    """`bentoml build` succeeds on bentofile.yaml and the Bento holds the service code and default config."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "True"}
    env = {k: v for k, v in env.items() if not k.startswith("DRIFTLINE_")}
    env["DRIFTLINE_STORE__URL"] = f"sqlite:///{tmp_path / 'empty.db'}"
    bentoml = Path(sys.executable).with_name("bentoml")
    result = subprocess.run(
        [str(bentoml), "build", ".", "--output", "tag"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    bentos = list((tmp_path / "bentoml" / "bentos" / "driftline").glob("*/src"))
    assert len(bentos) == 1
    source = bentos[0]
    assert (source / "service" / "app.py").exists()
    store_modules = sorted(path.name for path in (root / "driftline" / "core" / "store").glob("*.py"))
    assert store_modules == sorted(path.name for path in (source / "driftline" / "core" / "store").glob("*.py"))
    assert (source / "driftline" / "bentoml_compat.py").exists()  # the service's hooks into BentoML

    def migrations(root: Path) -> list[str]:
        folder = root / "driftline" / "core" / "store" / "migrations"
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix != ".pyc")

    assert migrations(root) == migrations(source)
    assert "data:" in (source / "driftline" / "core" / "driftline.yaml").read_text(encoding="utf-8")
    assert [] == [name for name in ("monitoring", "retrain", "driftline/cli") if (source / name).exists()]


@pytest.mark.integration
def test_an_installed_wheel_finds_its_default_config_and_prometheus_files(tmp_path: Path) -> None:
    """A wheel built from the checkout and installed (not editable) ships the default config and Prometheus files."""
    # a copy, since building writes build/ and *.egg-info next to the sources
    source = tmp_path / "source"
    shutil.copytree(
        Path(__file__).resolve().parents[2],
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git", ".venv", ".driftline", "build", "*.egg-info", "__pycache__", ".*_cache"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheels = list((tmp_path / "dist").glob("driftline-*.whl"))
    assert len(wheels) == 1
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheels[0])],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    for package in ("driftline", "service", "monitoring", "retrain"):
        assert (target / package / "__init__.py").exists()
    probe = (
        "import driftline, json; from driftline.core.settings import DEFAULT_CONFIG, load_settings; "
        "from driftline.cli.prometheus import PROMETHEUS_DIR; s = load_settings(DEFAULT_CONFIG); "
        "print(json.dumps([driftline.__file__, str(DEFAULT_CONFIG), s.data.target, "
        "(PROMETHEUS_DIR / 'alerts.yml').read_text()[:1]]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    module, config, target_column, alerts = json.loads(result.stdout)
    assert Path(module).is_relative_to(target)
    assert Path(config).is_relative_to(target)
    assert "late" == target_column
    assert "#" == alerts
