"""The one line that says what a retrain decided: gain, confidence bound and margin."""

from __future__ import annotations

import pytest

from retrain.verdict import format_verdict, format_waiting

BOUND = {"gain_lower_bound": -0.0217, "confidence": 0.99, "rounds": 200}


def test_a_rejection_says_the_bound_was_not_above_the_margin() -> None:
    """A higher score whose lower bound is not above min_gain reads as such, not as 'not better'."""
    expected = "rejected: gain +0.033 roc_auc, but the 99 % lower bound -0.022 is not above the required 0.0"
    assert expected == format_verdict(False, "roc_auc", 0.5749, 0.5415, 0.0, BOUND)


def test_a_promotion_says_the_gain_and_its_bound() -> None:
    """A promotion names the gain and the lower bound that cleared the margin."""
    bound = {"gain_lower_bound": 0.0901, "confidence": 0.99}
    expected = "promoted: gain +0.134 roc_auc, 99 % lower bound +0.090 above 0.0"
    assert expected == format_verdict(True, "roc_auc", 0.6714, 0.5373, 0.0, bound)


def test_a_point_gain_below_the_margin_needs_no_bound() -> None:
    """When the point gain alone falls short, the bootstrap did not run and the line says the gain only."""
    expected = "rejected: gain -0.012 roc_auc, not above the required 0.02"
    assert expected == format_verdict(False, "roc_auc", 0.530, 0.542, 0.02)


def test_a_promotion_without_bootstrap_says_so() -> None:
    """With retrain.bootstrap_rounds 0 the point gain decided, and the line says no bootstrap ran."""
    expected = "promoted: gain +0.050 accuracy, above the required 0.0 (no bootstrap)"
    assert expected == format_verdict(True, "accuracy", 0.75, 0.70, 0.0)


def test_a_smaller_is_better_metric_reports_the_reduction_as_the_gain() -> None:
    """On log loss a lower candidate is a positive gain, and the line says which way the metric runs."""
    expected = "promoted: gain +0.020 log_loss (lower is better), 99.9 % lower bound +0.010 above 0.0"
    bound = {"gain_lower_bound": 0.01, "confidence": 0.999}
    assert expected == format_verdict(True, "log_loss", 0.48, 0.50, 0.0, bound)


@pytest.mark.parametrize(
    ("candidate", "champion", "expected"),
    [
        (float("nan"), 0.5, "rejected: the candidate's roc_auc is undefined on the holdout"),
        (0.5, float("nan"), "rejected: the champion's roc_auc is undefined on the holdout"),
    ],
)
def test_an_undefined_score_is_named(candidate: float, champion: float, expected: str) -> None:
    """A score the holdout cannot define (one class in it) is said to be undefined, not printed as nan."""
    assert expected == format_verdict(False, "roc_auc", candidate, champion, 0.0)


def test_a_retrain_waiting_for_labels_says_how_many_are_in() -> None:
    """The waiting line names the labelled rows found, those needed, and that the trigger stays armed."""
    expected = (
        "waiting for labels: 120 of 1000 labelled live rows; the trigger stays armed and retrains once they are in"
    )
    assert expected == format_waiting(120, 1000)
