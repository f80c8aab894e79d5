from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftline.core import FeatureSchema
from monitoring import DriftResult, compare
from monitoring.multivariate import domain_drift

SCHEMA = FeatureSchema(("x1", "x2", "income"), ("region",), "y", "classification", (0, 1))


def rows(count: int, *, correlation: float, seed: int) -> pd.DataFrame:
    """Standard normal x1 and x2 with the given correlation, an independent number and category."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=count)
    x2 = correlation * x1 + np.sqrt(1 - correlation**2) * rng.normal(size=count)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "income": rng.normal(50, 15, count),
            "region": rng.choice(["north", "south", "east", "west"], count),
        }
    )


def compared(correlation: float) -> DriftResult:
    reference = rows(3000, correlation=0.8, seed=1)
    return compare(reference, rows(3000, correlation=correlation, seed=2), SCHEMA, drift_share=0.3)


@pytest.fixture(scope="module")
def flipped() -> DriftResult:
    return compared(-0.8)


def test_a_flipped_correlation_leaves_every_per_feature_test_quiet(flipped: DriftResult) -> None:
    """x1 and x2 keep their marginal distributions when their correlation flips, so no per-feature test flags them."""
    assert [] == flipped.drifted_features


def test_the_domain_classifier_flags_a_flipped_correlation(flipped: DriftResult) -> None:
    """Rows whose two features now move against each other are told from the reference's: AUC above 0.65."""
    found = domain_drift(flipped.compared, threshold=0.65, rows=2000, seed=0)
    assert found is not None
    assert True is found.drifted


def test_the_domain_classifier_does_not_flag_an_unchanged_window() -> None:
    """A window drawn like the reference cannot be told from it: AUC near 0.5, no drift."""
    found = domain_drift(compared(0.8).compared, threshold=0.65, rows=2000, seed=0)
    assert found is not None
    assert False is found.drifted


def test_the_domain_classifier_sees_bounded_samples() -> None:
    """Each side is sampled down to `rows`, so its cost does not grow with the window."""
    found = domain_drift(compared(0.8).compared, threshold=0.65, rows=500, seed=0)
    assert found is not None
    assert (500, 500, 4) == (found.rows_reference, found.rows_current, found.features)


def test_too_few_rows_for_the_folds_give_no_verdict() -> None:
    """With fewer window rows than folds there is nothing to cross-validate: None, not an error."""
    result = compare(rows(100, correlation=0.8, seed=1), rows(3, correlation=0.8, seed=2), SCHEMA, drift_share=0.3)
    assert None is domain_drift(result.compared, threshold=0.65, rows=2000, seed=0)
