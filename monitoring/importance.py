"""Drift that matters: each feature's drift weighed by how much the production model relies on that feature.

The weight of a feature is its permutation importance on the holdout, measured at training and stored with the
version (`feature_importance` in its details), clipped at 0: a negative importance means shuffling the feature
did not hurt the model, which is noise, not reliance. The importance-weighted drift score of a check is

    sum over compared features of weight * drifted  /  sum over compared features of weight

the share of the model's reliance that sits on drifted features: 0 when only ignored features drift, 1 when every
feature the model uses drifted. It weighs the drifted verdicts rather than the test scores, because the scores are
p-values for some features and distances for others, with thresholds of their own; the verdict is what each test
means. A version stored without importance (trained before it was measured), or one whose compared features all
weigh 0, gets equal weights, and the result says so: the score is then the plain drift share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline.core import VersionDetails
from monitoring.drift import FeatureDrift


@dataclass(frozen=True)
class FeatureWeights:
    """A version's permutation importance per feature, or the reason it has none."""

    importance: dict[str, float | None]
    metric: str | None  # the metric the importance is measured in
    missing_because: str | None = None

    @classmethod
    def of(cls, version: int, details: VersionDetails) -> FeatureWeights:
        stored = details.get("feature_importance")
        if not stored:
            return cls({}, None, f"version {version} stores no feature importance (trained before it was measured)")
        return cls(dict(stored["mean"]), stored["metric"])

    def weight(self, feature: str) -> float:
        """The feature's importance clipped at 0 (0 where it is unknown)."""
        value = self.importance.get(feature)
        return max(value, 0.0) if value is not None else 0.0


@dataclass(frozen=True)
class WeightedDrift:
    """The importance-weighted drift score of one check and the normalised weight behind each feature."""

    score: float
    threshold: float
    weights: dict[str, float]  # per compared feature; they sum to 1
    importance: dict[str, float | None]  # as stored with the version (empty without it)
    metric: str | None
    equal_weights_because: str | None

    @property
    def drifted(self) -> bool:
        return bool(self.weights) and self.score >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "importance_metric": self.metric,
            "equal_weights": self.equal_weights_because is not None,
            "equal_weights_because": self.equal_weights_because,
        }

    def annotate(self, feature: FeatureDrift) -> dict[str, Any]:
        """A feature's drift with its importance and its weight in the score beside it."""
        return {
            **feature.to_dict(),
            "importance": self.importance.get(feature.feature),
            "weight": self.weights.get(feature.feature),
        }


def weighted_drift(features: list[FeatureDrift], weights: FeatureWeights, threshold: float) -> WeightedDrift:
    """The importance-weighted drift score of the compared `features` (see the module docstring)."""
    raw = {f.feature: weights.weight(f.feature) for f in features}
    because = weights.missing_because
    if because is None and features and sum(raw.values()) == 0:
        because = "no compared feature has a positive importance"
    if because is not None:
        raw = {name: 1.0 for name in raw}
    total = sum(raw.values())
    normalised = {name: value / total for name, value in raw.items()} if total else {}
    score = sum(normalised[f.feature] for f in features if f.drifted) if normalised else 0.0
    return WeightedDrift(
        score=score,
        threshold=threshold,
        weights=normalised,
        importance=weights.importance,
        metric=weights.metric,
        equal_weights_because=because,
    )
