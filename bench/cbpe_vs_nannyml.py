"""Driftline's CBPE against NannyML's own, on the synthetic binary dataset NannyML ships in its wheel.

NannyML is not a dependency of Driftline: it runs in a virtualenv of its own, whose Python this script calls.

    python3 -m venv /tmp/nannyml-venv && /tmp/nannyml-venv/bin/pip install nannyml
    .venv/bin/python bench/cbpe_vs_nannyml.py --nannyml-python /tmp/nannyml-venv/bin/python

That Python fits NannyML's CBPE on `synthetic_sample_reference.csv` and estimates ROC AUC, accuracy and F1 on
5,000-row chunks of `synthetic_sample_analysis.csv`; it prints the estimates and where the CSV files are. This
script fits Driftline's CBPE (`monitoring.estimation.fit_cbpe`, the code a check runs) on the same reference and
estimates the same chunks from their probabilities and predictions alone, then prints both per chunk with the
realized value from `synthetic_sample_analysis_gt.csv`. It exits 1 when a ROC AUC estimate differs from
NannyML's by more than 0.005.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from driftline.core import PREDICTION_COLUMN, EstimationSettings, FeatureSchema  # noqa: E402
from monitoring.cbpe import realized  # noqa: E402
from monitoring.estimation import OUTPUT_COLUMN, PREDICTED_COLUMN, TRUTH_COLUMN, fit_cbpe  # noqa: E402

CHUNK_ROWS = 5000
METRICS = ("roc_auc", "accuracy", "f1")
TOLERANCE = 0.005  # on ROC AUC, per chunk

# runs inside NannyML's virtualenv: only NannyML and what it installs are available there
NANNYML_SIDE = """
import json, os, sys
import nannyml as nml

reference, analysis, _ = nml.load_synthetic_binary_classification_dataset()
estimator = nml.CBPE(
    y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="work_home_actual",
    metrics=["roc_auc", "accuracy", "f1"], chunk_size=int(sys.argv[1]), problem_type="classification_binary",
)
estimator.fit(reference)
frame = estimator.estimate(analysis).filter(period="analysis").to_df()  # the result holds the reference's too
chunks = []
for row in range(len(frame)):
    start, end = frame[("chunk", "start_index")].iloc[row], frame[("chunk", "end_index")].iloc[row]
    chunk = {"start": int(start), "end": int(end)}
    for metric in ["roc_auc", "accuracy", "f1"]:
        chunk[metric] = float(frame[(metric, "value")].iloc[row])
        chunk[metric + "_lower"] = float(frame[(metric, "lower_confidence_boundary")].iloc[row])
        chunk[metric + "_upper"] = float(frame[(metric, "upper_confidence_boundary")].iloc[row])
    chunks.append(chunk)
data = os.path.join(os.path.dirname(nml.__file__), "datasets", "data")
calibrated = bool(estimator.needs_calibration)
print(json.dumps({"version": nml.__version__, "data": data, "calibrated": calibrated, "chunks": chunks}))
"""


def nannyml_estimates(python: str) -> dict[str, Any]:
    """NannyML's per-chunk estimates, from its own virtualenv."""
    done = subprocess.run(
        [python, "-c", NANNYML_SIDE, str(CHUNK_ROWS)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"NannyML's side failed:\n{done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def performance_reference(reference: pd.DataFrame) -> pd.DataFrame:
    """NannyML's reference as the performance reference training stores."""
    return pd.DataFrame(
        {
            TRUTH_COLUMN: reference["work_home_actual"].astype("int64"),
            PREDICTION_COLUMN: reference["y_pred_proba"].astype("float64"),
            PREDICTED_COLUMN: reference["y_pred"].astype("int64"),
        }
    )


def window_sample(chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk as a check's window sample: the positive-class probability and the logged output."""
    return pd.DataFrame(
        {
            PREDICTION_COLUMN: chunk["y_pred_proba"].to_numpy(dtype="float64"),
            OUTPUT_COLUMN: [{"prediction": int(p)} for p in chunk["y_pred"]],
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nannyml-python", default="/tmp/nannyml-venv/bin/python", help="Python of NannyML's venv")
    args = parser.parse_args()
    theirs = nannyml_estimates(args.nannyml_python)
    data = Path(theirs["data"])
    reference = pd.read_csv(data / "synthetic_sample_reference.csv")
    analysis = pd.read_csv(data / "synthetic_sample_analysis.csv").merge(
        pd.read_csv(data / "synthetic_sample_analysis_gt.csv"), on="id"
    )
    schema = FeatureSchema(numeric=(), categorical=(), target="work_home_actual", task="classification", classes=(0, 1))
    settings = EstimationSettings()
    ours = {m: fit_cbpe(performance_reference(reference), schema, m, CHUNK_ROWS, settings) for m in METRICS}
    print(
        f"NannyML {theirs['version']}; calibration kept: NannyML {theirs['calibrated']}, "
        f"Driftline {ours['roc_auc'].calibrated}"
    )
    print(
        "| chunk | rows | NannyML ROC AUC | Driftline ROC AUC | difference | NannyML band | Driftline band | realized "
        "| NannyML accuracy | Driftline accuracy | NannyML F1 | Driftline F1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    inside = 0
    for number, chunk in enumerate(theirs["chunks"]):
        rows = analysis.iloc[chunk["start"] : chunk["end"] + 1]
        sample = window_sample(rows)
        estimates = {m: ours[m].estimate(sample) for m in METRICS}
        value = estimates["roc_auc"].value or float("nan")
        difference = value - chunk["roc_auc"]
        worst = max(worst, abs(difference))
        truth = rows["work_home_actual"].to_numpy()
        actual = realized("roc_auc", truth, rows["y_pred_proba"].to_numpy(), rows["y_pred"].to_numpy())
        low, high = estimates["roc_auc"].lower or 0.0, estimates["roc_auc"].upper or 1.0
        inside += int(low <= actual <= high)
        print(
            f"| {number} | {len(rows)} | {chunk['roc_auc']:.4f} | {value:.4f} | {difference:+.5f} | "
            f"{chunk['roc_auc_lower']:.4f} to {chunk['roc_auc_upper']:.4f} | {low:.4f} to {high:.4f} | {actual:.4f} | "
            f"{chunk['accuracy']:.4f} | {estimates['accuracy'].value or float('nan'):.4f} | "
            f"{chunk['f1']:.4f} | {estimates['f1'].value or float('nan'):.4f} |"
        )
    print(
        f"largest ROC AUC difference {worst:.5f} (tolerance {TOLERANCE}); realized ROC AUC inside Driftline's "
        f"band in {inside} of {len(theirs['chunks'])} chunks"
    )
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    raise SystemExit(main())
