"""CBPE on the flights replay: how often the realized ROC AUC of a window falls inside the estimate's band.

    .venv/bin/python bench/cbpe_flights.py

Trains the built-in model (January and February) into a temporary store, then cuts March to December into
consecutive 5,000-row windows in time order, as the monitor would see them. For each it estimates the ROC AUC from
the model's outputs alone (the estimator a check uses, fitted on the version's holdout), computes the realized ROC
AUC from the true labels, and prints both with the band and the threshold. CBPE assumes the relation between the
features and the label is unchanged, so windows where the realized value leaves the band are where the flights'
seasons change that relation (concept drift), not only the features.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftline.core import PREDICTION_COLUMN, Registry, Store, load_dataset, load_settings  # noqa: E402
from driftline.core.settings import DEFAULT_CONFIG  # noqa: E402
from monitoring import PerformanceEstimation  # noqa: E402
from monitoring.cbpe import realized  # noqa: E402
from monitoring.estimation import OUTPUT_COLUMN  # noqa: E402
from retrain import train  # noqa: E402

WINDOW_ROWS = 5000


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="driftline-cbpe-flights-"))
    os.environ.update(
        {
            "DRIFTLINE_CONFIG": str(DEFAULT_CONFIG),
            "DRIFTLINE_STORE__URL": f"sqlite:///{folder / 'store.db'}",
            "DRIFTLINE_STORE__MODEL_DIR": str(folder / "bentoml"),
        }
    )
    settings = load_settings()
    registry = Registry(Store(settings.store.url), settings.store.model_dir)
    train(settings, registry, trigger="bench")
    model = registry.load(1)
    estimation = PerformanceEstimation(registry, "roc_auc", WINDOW_ROWS, settings.monitoring.estimation)
    fitted = estimation.estimator(1)
    if isinstance(fitted, str):
        raise SystemExit(fitted)
    live = load_dataset(settings.data).live
    features = list(model.schema.features)
    print(f"holdout-derived threshold {fitted.threshold:.4f}; calibration kept: {fitted.calibrated}")
    print("| window | first flight | estimated | band | realized | inside | alert |")
    print("|---|---|---:|---|---:|---|---|")
    inside = alerts = realized_below = windows = 0
    for start in range(0, len(live) - WINDOW_ROWS + 1, WINDOW_ROWS):
        rows = live.iloc[start : start + WINDOW_ROWS]
        outputs = model.predict(rows[features])
        sample = pd.DataFrame({PREDICTION_COLUMN: [o["probability"] for o in outputs], OUTPUT_COLUMN: outputs})
        estimate = fitted.estimate(sample)
        truth = rows[settings.data.target].to_numpy(dtype="int64")
        p = sample[PREDICTION_COLUMN].to_numpy(dtype="float64")
        actual = realized("roc_auc", truth, p, (p > 0.5).astype("int64"))
        low, high = estimate.lower or 0.0, estimate.upper or 1.0
        hit = low <= actual <= high
        windows += 1
        inside += int(hit)
        alerts += int(estimate.alert)
        realized_below += int(fitted.threshold is not None and actual < fitted.threshold)
        print(
            f"| {windows} | {rows[settings.data.time_column].iloc[0]:%Y-%m-%d} | {estimate.value:.4f} | "
            f"{low:.4f} to {high:.4f} | {actual:.4f} | {'yes' if hit else 'no'} | {'yes' if estimate.alert else ''} |"
        )
    print(
        f"realized inside the band in {inside} of {windows} windows ({100 * inside / windows:.0f} %); "
        f"estimate below the threshold in {alerts}, realized below it in {realized_below}"
    )
    registry.store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
