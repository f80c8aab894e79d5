"""Small artefacts built in tmp_path: a synthetic loans table, config files, a PostgreSQL server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

NUMERIC = ["income", "age", "debt_ratio"]
CATEGORICAL = ["purpose", "region"]


def make_loans(
    rows: int = 1200, *, seed: int = 0, income_shift: float = 0.0, start: str = "2024-01-01"
) -> pd.DataFrame:
    """A loans table whose `default` depends on the features, with missing values in `debt_ratio`."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + income_shift, 15, rows)
    age = rng.integers(20, 70, rows).astype(float)
    debt = rng.uniform(0, 1, rows)
    debt[rng.random(rows) < 0.05] = np.nan
    purpose = rng.choice(["car", "home", "education", "other"], rows)
    region = rng.choice(["north", "south", "east", "west"], rows)
    logit = -0.04 * (income - 50) + 2.5 * np.nan_to_num(debt, nan=0.5) - 1.2 + (purpose == "education") * 0.8
    default = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "applied_at": pd.date_range(start, periods=rows, freq="h"),
            "income": income,
            "age": age,
            "debt_ratio": debt,
            "purpose": purpose,
            "region": region,
            "default": default,
        }
    )


def feature_row(frame: pd.DataFrame, index: int = 0) -> dict[str, Any]:
    """One request row (JSON-ready: NaN as None) from a loans-like frame."""
    row = frame.iloc[index][NUMERIC + CATEGORICAL].to_dict()
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def write_config(folder: Path, data_path: Path, **overrides: Any) -> Path:
    """A config file for the loans data with its store and model store inside `folder`."""
    config: dict[str, Any] = {
        "data": {"path": str(data_path), "target": "default", "task": "classification", "time_column": "applied_at"},
        "model": {
            "name": "loans",
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": 500},
            "metric": "roc_auc",
            "reference_rows": 500,
        },
        "store": {"url": f"sqlite:///{folder / 'store.db'}", "model_dir": str(folder / "bentoml")},
        "serving": {"workers": 1, "poll_seconds": 0.5, "log_flush_seconds": 0.1},
    }
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        config.setdefault(section, {})[key] = value
    path = folder / "driftline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def wait_for(what: str, probe: Any, seconds: float, every: float = 0.2) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1; yields the admin URL (database `postgres`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are missing: run scripts/system-deps.sh")
    bindir = Path(found[-1]).parent
    # outside pytest's tmp tree, which is private to root: as root the server runs as `postgres`
    folder = Path(tempfile.mkdtemp(prefix="driftline-pg-"))
    folder.chmod(0o755)
    data = folder / "pgdata"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "driftline"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            *as_user,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql+psycopg://driftline@127.0.0.1:{port}/postgres"
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        for _ in range(100):
            try:
                with engine.connect():
                    break
            except sa.exc.OperationalError:
                time.sleep(0.1)
        else:
            raise RuntimeError("PostgreSQL did not start within 10 s")
        engine.dispose()
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
