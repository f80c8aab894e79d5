"""`driftline db upgrade` and `db current` on the store made before migrations (tests/fixtures/unversioned-store),
and what the other commands do on a schema they cannot use."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftline.cli.db import current_revision, upgrade_store
from driftline.cli.main import main
from driftline.core import Migrations, load_settings
from driftline.core.store import create_engine, metadata
from tests.factories import feature_row, make_loans, write_config
from tests.processes import free_port, start_driftline, stop_process_group


@pytest.fixture
def old_store(tmp_path: Path, unversioned_store: Path) -> Path:
    """A config over a copy of the store made before migrations and its model files."""
    folder = unversioned_store
    data = tmp_path / "loans.csv"
    make_loans().to_csv(data, index=False)
    return write_config(
        tmp_path,
        data,
        store__url=f"sqlite:///{folder / 'driftline.sqlite'}",
        store__model_dir=str(folder / "bentoml"),
        monitoring__window_rows=300,
        monitoring__min_rows=100,
        monitoring__reports_dir=str(tmp_path / "reports"),
    )


def database(config: Path) -> Path:
    return config.parent / "unversioned-store" / "driftline.sqlite"


def every_row(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Driftline table the database has, in a stable order."""
    with sqlite3.connect(path) as conn:
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall())
            for table in metadata.tables
            if table in present
        }


def upgrade(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["db", "upgrade", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def status(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main(["status", "--json", "--config", str(config)])
    return dict(json.loads(capsys.readouterr().out))


def test_upgrade_keeps_every_row(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every row of every table of the store made before migrations is there, unchanged, after the upgrade."""
    before = every_row(database(old_store))
    upgrade(old_store, capsys)
    after = every_row(database(old_store))
    assert before == {table: after[table] for table in before}


def test_upgrade_stamps_the_baseline_and_says_so(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The upgrade checks the old tables, stamps them with the baseline and prints that step and the outcome."""
    code, out, err = upgrade(old_store, capsys)
    assert (
        0,
        "[db] tables made before migrations match revision 0001: stamped 0001",
        f"schema at revision {Migrations().head}, the newest (was none)\n",
    ) == (code, err.splitlines()[1], out)


def test_the_upgraded_store_keeps_its_history(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After the upgrade `status` shows version 1 in production after the rollback, 2 archived, 3 rejected, the
    three promotions and the three training runs."""
    upgrade(old_store, capsys)
    shown = status(old_store, capsys)
    assert (
        1,
        [(1, "production"), (2, "archived"), (3, "rejected")],
        ["initial", "manual", "rollback"],
        ["succeeded"] * 3,
    ) == (
        shown["production_version"],
        sorted((v["version"], v["status"]) for v in shown["versions"]),
        [p["kind"] for p in shown["promotions"]],
        [r["status"] for r in shown["training_runs"]],
    )


def test_current_exits_1_before_the_upgrade(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db current` on the store made before migrations says so and exits 1."""
    code = main(["db", "current", "--config", str(old_store)])
    shown = "tables made before migrations, no revision (`driftline db upgrade` checks and stamps them)\n"
    assert (1, shown) == (code, capsys.readouterr().out)


def test_current_exits_0_after_the_upgrade(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db current` after the upgrade names the revision and exits 0."""
    upgrade(old_store, capsys)
    code = main(["db", "current", "--config", str(old_store)])
    assert (0, f"revision {Migrations().head} (the newest)\n") == (code, capsys.readouterr().out)


def test_commands_refuse_a_schema_from_a_newer_release(
    old_store: Path, next_release: Migrations, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve`, `monitor` and `status` on a store a newer release upgraded exit 2 with one line naming why."""
    engine = create_engine(f"sqlite:///{database(old_store)}")
    next_release.upgrade(engine)
    engine.dispose()
    lines = []
    for command in (["serve", "--port", "1"], ["monitor", "--port", "1"], ["status"]):
        code = main([*command, "--config", str(old_store)])
        lines.append((code, capsys.readouterr().err))
    refusal = (
        "the store's schema is not one this release can use: its revision t0002 is not one this release knows "
        "(a store upgraded by a newer release needs that release, or the backup taken before the upgrade)"
    )
    assert [(2, f"driftline {name}: {refusal}\n") for name in ("serve", "monitor", "status")] == lines


def test_upgrade_applies_a_pending_revision_and_says_so(
    old_store: Path, next_release: Migrations, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db upgrade` of a release one revision ahead prints the revision it applied and where the schema is now."""
    upgrade(old_store, capsys)
    upgrade_store(load_settings(old_store), next_release)
    out, err = capsys.readouterr()
    assert (
        "[db] applied t0002: A throwaway revision after the package's newest, for tests: a schema one release "
        "ahead of a store at the newest.",
        f"schema at revision t0002, the newest (was {Migrations().head})\n",
    ) == (err.splitlines()[1], out)


def test_current_names_the_upgrade_a_newer_release_needs(
    old_store: Path, next_release: Migrations, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db current` against a release one revision ahead names the revision it needs and the command, exit 1."""
    upgrade(old_store, capsys)
    code = current_revision(load_settings(old_store), next_release)
    shown = f"revision {Migrations().head}; this release needs t0002: run `driftline db upgrade`\n"
    assert (1, shown) == (code, capsys.readouterr().out)


@pytest.mark.integration
def test_the_upgraded_store_serves_and_monitors(old_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After the upgrade a real `driftline serve` answers with version 1 from the fixture's model files, and a
    drift check compares the window of logged rows with that version's reference."""
    upgrade(old_store, capsys)
    port = free_port()
    process = start_driftline("serve", port, log=old_store.parent / "serve.log", config=old_store)
    url = f"http://127.0.0.1:{port}"
    try:
        answer = httpx.post(f"{url}/predict", json=feature_row(make_loans(2), 0), timeout=10).json()
    finally:
        stop_process_group(process)
    main(["check", "--config", str(old_store)])
    check = json.loads(capsys.readouterr().out)
    assert (1, 1, 300) == (answer["model_version"], check["model_version"], check["rows"])
