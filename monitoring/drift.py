"""Drift of a live window against a model version's reference, computed with Evidently.

`compare` runs Evidently's drift test for each column, chosen the way its ValueDrift metric chooses it, and reduces
the outcome to `DriftResult`. The HTML report is a separate step (`render`): an Evidently `Report` builds a Plotly
figure for every column as it runs, which costs about thirty times the tests themselves, so a check keeps the
compared samples (`Compared`) and the report is rendered from them only when someone opens it. Both give the same
numbers: same samples, same tests.

Columns Evidently cannot handle (all missing, empty, or text in a numeric column, any of which aborts a whole
report) are left out first and reported as insufficient data. Both frames are sampled down to `sample_rows`: on
samples of a few thousand rows Evidently's "auto" choice uses distances (Wasserstein, Jensen-Shannon), whose size
does not grow with traffic the way p-values shrink, so a same-distribution window does not raise drift however much
traffic arrives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftline.core import PREDICTION_COLUMN, FeatureSchema
from monitoring.estimate_section import add_estimate_section

if TYPE_CHECKING:  # both modules read this one's results
    from monitoring.importance import WeightedDrift
    from monitoring.multivariate import DomainDrift

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Compared:
    """What a comparison looked at: both samples (compared columns only) and the settings of its tests."""

    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    method: str | None
    drift_share: float
    estimated_performance: dict[str, Any] | None = None  # the check's label-free estimate, shown above the drift


@dataclass
class DriftResult:
    """Per-feature drift, the share of drifted features, and drift of the model's predictions; a check adds the
    domain classifier's verdict and the importance-weighted score, computed from these (`compare` leaves them
    None)."""

    features: list[FeatureDrift]
    insufficient: dict[str, str]
    drift_share: float
    drift_share_threshold: float
    prediction: FeatureDrift | None
    rows_current: int
    rows_reference: int
    compared: Compared = field(repr=False)
    multivariate: DomainDrift | None = None
    weighted: WeightedDrift | None = None

    @property
    def dataset_drift(self) -> bool:
        return bool(self.features) and self.drift_share >= self.drift_share_threshold

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    def feature_rows(self) -> list[dict[str, Any]]:
        """Each feature's test, with its importance and weight beside it once the check has weighted them."""
        weighted = self.weighted
        return [weighted.annotate(f) if weighted else f.to_dict() for f in self.features]

    def save_html(self, path: Path) -> None:
        """The Evidently report of this comparison as a standalone HTML page."""
        render(self.compared, path)


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
    if current.empty:
        raise ValueError("the window has no rows")
    reference = sampled(reference, sample_rows, seed)
    current = sampled(current, sample_rows, seed)
    numeric, categorical, insufficient = usable_columns(reference, current, schema)
    kinds = {name: "numeric" for name in numeric} | {name: "categorical" for name in categorical}
    if (
        PREDICTION_COLUMN in reference.columns
        and PREDICTION_COLUMN in current.columns
        and current[PREDICTION_COLUMN].notna().any()
    ):
        kinds[PREDICTION_COLUMN] = "prediction"
    method = None if stat_test == "auto" else stat_test
    results = {name: _column_drift(name, kind, reference, current, method) for name, kind in kinds.items()}
    features = [results[name] for name in numeric + categorical]
    share = sum(f.drifted for f in features) / len(features) if features else 0.0
    return DriftResult(
        features=features,
        insufficient=insufficient,
        drift_share=share,
        drift_share_threshold=drift_share,
        prediction=results.get(PREDICTION_COLUMN),
        rows_current=len(current),
        rows_reference=len(reference),
        compared=Compared(reference[list(kinds)], current[list(kinds)], numeric, categorical, method, drift_share),
    )


def _column_drift(
    name: str, kind: str, reference: pd.DataFrame, current: pd.DataFrame, method: str | None
) -> FeatureDrift:
    """Evidently's test for one column, chosen as its ValueDrift metric chooses it ("auto": by type and size)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ref, cur = (_finite(frame[name]) for frame in (reference, current))
    numeric = kind == "numeric" or (kind == "prediction" and pd.api.types.is_numeric_dtype(cur))
    column_type = ColumnType.Numerical if numeric else ColumnType.Categorical
    test = get_stattest(ref, cur, column_type, method)
    outcome = test(ref, cur, column_type, None)
    label = method or test.display_name
    return FeatureDrift(
        feature=name,
        kind=kind,
        test=label,
        direction="distance" if label in DISTANCE_TESTS else "p_value",
        score=float(outcome.drift_score),
        threshold=float(outcome.actual_threshold),
        drifted=bool(outcome.drifted),
    )


def _finite(column: pd.Series) -> pd.Series:
    """The column without its missing and infinite values."""
    if pd.api.types.is_float_dtype(column):
        return column[np.isfinite(column.to_numpy())]
    return column[column.notna() & ~column.isin([np.inf, -np.inf])]


def render(compared: Compared, path: Path) -> None:
    """Evidently's HTML report of a comparison (its drift table and one plot per column), as a standalone page."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    features = compared.numeric + compared.categorical
    prediction = PREDICTION_COLUMN in compared.current.columns
    prediction_numeric = prediction and pd.api.types.is_numeric_dtype(compared.current[PREDICTION_COLUMN])
    definition = DataDefinition(
        numerical_columns=compared.numeric + ([PREDICTION_COLUMN] if prediction_numeric else []),
        categorical_columns=compared.categorical
        + ([PREDICTION_COLUMN] if prediction and not prediction_numeric else []),
    )
    metrics: list[Any] = []
    if features:
        metrics.append(DataDriftPreset(columns=features, drift_share=compared.drift_share, method=compared.method))
    if prediction:
        metrics.append(ValueDrift(column=PREDICTION_COLUMN, method=compared.method))
    snapshot = Report(metrics, include_tests=True).run(
        current_data=Dataset.from_pandas(compared.current, data_definition=definition),
        reference_data=Dataset.from_pandas(compared.reference, data_definition=definition),
    )
    snapshot.save_html(str(path))
    if compared.estimated_performance is not None:
        add_estimate_section(path, compared.estimated_performance)


def sampled(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most `rows` rows of `frame`, drawn at random but the same every time for the same frame and seed."""
    return frame.sample(n=rows, random_state=seed) if len(frame) > rows else frame
