"""Drift of a live window against a model version's reference, computed with Evidently.

All Evidently objects are composed in `compare` and reduced to `DriftResult` here: the snapshot's shape never leaves
this package (the HTML report is written through `DriftResult.save_html`). Columns Evidently cannot handle (all
missing, empty, or text in a numeric column, any of which aborts a whole report) are left out first and reported as
insufficient data. Both frames are sampled down to `sample_rows`: on samples of a few thousand rows Evidently's
"auto" choice uses distances (Wasserstein, Jensen-Shannon), whose size does not grow with traffic the way p-values
shrink, so a same-distribution window does not raise drift however much traffic arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.core.schema import FeatureSchema

log = logging.getLogger(__name__)

PREDICTION = "__prediction__"
# Evidently tests whose score is a distance (drift when above the threshold); all others give p-values
DISTANCE_TESTS = frozenset(
    {
        "wasserstein",
        "Wasserstein distance (normed)",
        "jensenshannon",
        "Jensen-Shannon distance",
        "psi",
        "PSI",
        "kl_div",
        "Kullback-Leibler divergence",
        "hellinger",
        "Hellinger distance",
        "ed",
        "Energy-distance",
        "empirical_mmd",
        "TVD",
        "Total-Variation-Distance",
    }
)


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift test."""

    feature: str
    kind: str
    test: str
    direction: str  # "distance": drift when score > threshold; "p_value": drift when score < threshold
    score: float
    threshold: float
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "test": self.test,
            "direction": self.direction,
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass
class DriftResult:
    """Per-feature drift, the share of drifted features, and drift of the model's predictions."""

    features: list[FeatureDrift]
    insufficient: dict[str, str]
    drift_share: float
    drift_share_threshold: float
    prediction: FeatureDrift | None
    rows_current: int
    rows_reference: int
    _snapshot: Any = field(default=None, repr=False)

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.drift_share >= self.drift_share_threshold

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def save_html(self, path: Path) -> None:
        """The Evidently report of this comparison as a standalone HTML page."""
        self._snapshot.save_html(str(path))


def usable_columns(
    reference: pd.DataFrame, current: pd.DataFrame, schema: FeatureSchema
) -> tuple[list[str], list[str], dict[str, str]]:
    """Numeric and categorical columns Evidently can compare, and why the others cannot be."""
    numeric: list[str] = []
    categorical: list[str] = []
    insufficient: dict[str, str] = {}
    for name in schema.features:
        if name not in current.columns or name not in reference.columns:
            insufficient[name] = (
                "column missing from the window" if name not in current.columns else "column missing from the reference"
            )
            continue
        live, ref = current[name], reference[name]
        if live.notna().sum() == 0:
            insufficient[name] = "no values in the window (all missing)"
        elif ref.notna().sum() == 0:
            insufficient[name] = "no values in the reference"
        elif name in schema.numeric and not (
            pd.api.types.is_numeric_dtype(live) and pd.api.types.is_numeric_dtype(ref)
        ):
            insufficient[name] = "non-numeric values in a numeric feature"
        elif name in schema.numeric:
            numeric.append(name)
        else:
            categorical.append(name)
    return numeric, categorical, insufficient


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    schema: FeatureSchema,
    *,
    drift_share: float,
    stat_test: str = "auto",
    sample_rows: int = 5000,
    seed: int = 0,
) -> DriftResult:
    """Compare `current` with `reference` column by column (and the prediction column when both have it)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    if current.empty:
        raise ValueError("the window has no rows")
    reference = _sample(reference, sample_rows, seed)
    current = _sample(current, sample_rows, seed)
    numeric, categorical, insufficient = usable_columns(reference, current, schema)
    compare_prediction = (
        PREDICTION in reference.columns and PREDICTION in current.columns and (current[PREDICTION].notna().any())
    )
    prediction_numeric = compare_prediction and pd.api.types.is_numeric_dtype(current[PREDICTION])
    columns = numeric + categorical + ([PREDICTION] if compare_prediction else [])
    definition = DataDefinition(
        numerical_columns=numeric + ([PREDICTION] if prediction_numeric else []),
        categorical_columns=categorical + ([PREDICTION] if compare_prediction and not prediction_numeric else []),
    )
    method = None if stat_test == "auto" else stat_test
    # the preset renders the drift table of the HTML report; its per-column metrics are what is read back
    metrics: list[Any] = []
    if numeric or categorical:
        metrics.append(DataDriftPreset(columns=numeric + categorical, drift_share=drift_share, method=method))
    if compare_prediction:
        metrics.append(ValueDrift(column=PREDICTION, method=method))
    snapshot = Report(metrics, include_tests=True).run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    results = _read(snapshot.dict(), set(numeric))
    features = [results[name] for name in numeric + categorical if name in results]
    share = sum(f.drifted for f in features) / len(features) if features else 0.0
    return DriftResult(
        features=features,
        insufficient=insufficient,
        drift_share=share,
        drift_share_threshold=drift_share,
        prediction=results.get(PREDICTION),
        rows_current=len(current),
        rows_reference=len(reference),
        _snapshot=snapshot,
    )


def _read(raw: dict[str, Any], numeric: set[str]) -> dict[str, FeatureDrift]:
    """Per-column score, test and threshold from the metrics; the drifted flag from the matching test."""
    failed = {
        test["metric_config"]["metric_id"]: test["status"] == "FAIL"
        for test in raw.get("tests", [])
        if test.get("id") == "drift"
    }
    out: dict[str, FeatureDrift] = {}
    for metric in raw["metrics"]:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift"):
            continue
        name, test = config["column"], str(config.get("method"))
        out[name] = FeatureDrift(
            feature=name,
            kind="numeric" if name in numeric else ("prediction" if name == PREDICTION else "categorical"),
            test=test,
            direction="distance" if test in DISTANCE_TESTS else "p_value",
            score=float(metric["value"]),
            threshold=float(config.get("threshold")),
            drifted=failed.get(metric["id"], False),
        )
    return out


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=rows, random_state=seed) if len(frame) > rows else frame
