"""The shape of the `details` JSON kept with every version: declared once for the trainer that writes it and for
the registry, the service's `/model` and `driftline status` that read it.

A first training and a retrain store the same core (what was fitted, how it scored beside what it was compared
with, on which rows); each adds what only it knows. Rows written before a key existed may lack it, so readers
that show old versions use `.get`.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class DataChecks(TypedDict, total=False):
    """What the checks of a first training's data found and did; a retrain's live rows were validated when they
    were served, so its versions carry none of these."""

    rows_in: int
    repeated_ids_dropped: int
    identical_rows: int
    identical_share: float
    duplicates_dropped: int
    missing_target_dropped: int
    missing_share: dict[str, float]
    fingerprint: str  # sha256 of the usable rows, to tell whether two versions saw the same data


class VersionData(DataChecks):
    """Where a version's rows came from and how they were split."""

    source: str  # the dataset's name or path; "reference+live" for a retrain
    rows_train: int
    rows_holdout: int
    rows_reference: int  # rows in the drift reference stored with the version


class TimeRange(TypedDict):
    start: str
    end: str


class FeatureImportance(TypedDict):
    """Permutation importance of each feature on the holdout: how much the metric worsens when the feature's values
    are shuffled (in the metric's own units; about 0 for a feature the model ignores, below 0 by chance)."""

    metric: str  # the configured metric it is measured on
    rows: int  # holdout rows shuffled
    repeats: int  # shuffles per feature
    mean: dict[str, float | None]  # per feature; None where the metric is undefined on the holdout
    std: dict[str, float | None]


class VersionDetails(TypedDict):
    """A version's `details`: the estimator and its fitted parameters, holdout metrics beside those of what it was
    compared with, its data, and the run that made it."""

    estimator: str
    params: dict[str, Any]  # the fitted estimator's parameters, searched ones included
    metric: str  # the metric it was compared on
    metrics: dict[str, Any]  # its holdout metrics (confusion matrix and classes too, for a classifier)
    baseline_metrics: dict[str, Any]  # on the same holdout: the dummy baseline's (training), the champion's (retrain)
    data: VersionData
    code_version: str
    trigger: str
    run_id: int
    # versions trained before importance was measured lack it; drift weighting then falls back to equal weights
    feature_importance: NotRequired[FeatureImportance]
    # a first training's only
    configured_params: NotRequired[dict[str, Any]]
    tuning: NotRequired[dict[str, Any] | None]  # the search's trials and winner; None without a search space
    time_range: NotRequired[TimeRange | None]  # of the training rows, when the data has a time column
    duration_seconds: NotRequired[float]
    # a retrain's only: its comparison with the champion, as recorded in the promotion history
    evidence: NotRequired[dict[str, Any]]


def compared_values(details: VersionDetails) -> tuple[Any, Any]:
    """The version's and its baseline's value of the metric it was compared on (None where not recorded)."""
    metric = details.get("metric", "")
    return (details.get("metrics") or {}).get(metric), (details.get("baseline_metrics") or {}).get(metric)
