"""Small artefacts built in tmp_path: a synthetic loans table and config files."""

from __future__ import annotations

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


def write_amounts_config(folder: Path, rows: int, **overrides: Any) -> Path:
    """A regression config: the loans features predict `amount` (mostly income, some debt ratio), from a CSV."""
    frame = make_loans(rows).drop(columns=["default"])
    frame["amount"] = frame["income"] * 3 + np.nan_to_num(frame["debt_ratio"], nan=0.5) * 10
    path = folder / "amounts.csv"
    frame.to_csv(path, index=False)
    config = write_config(folder, path, **overrides)
    text = (
        config.read_text()
        .replace("target: default", "target: amount")
        .replace("task: classification", "task: regression")
    )
    config.write_text(text)
    return config
