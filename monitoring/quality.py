"""Data quality of a window against the reference: missing values, unseen categories, out-of-range numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftline.core import FeatureSchema


@dataclass
class Quality:
    """Shares per feature (0..1) and the schema problems found."""

    missing_share: dict[str, float] = field(default_factory=dict)
    unseen_share: dict[str, float] = field(default_factory=dict)
    out_of_range_share: dict[str, float] = field(default_factory=dict)
    schema_problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing_share": self.missing_share,
            "unseen_share": self.unseen_share,
            "out_of_range_share": self.out_of_range_share,
            "schema_problems": self.schema_problems,
        }


@dataclass(frozen=True)
class ReferenceProfile:
    """What a window's quality is measured against, taken from a reference once: the features it has, each numeric
    feature's range (None without values) and each categorical feature's known values."""

    columns: frozenset[str]
    ranges: dict[str, tuple[float, float] | None]
    known: dict[str, frozenset[str]]

    @classmethod
    def of(cls, reference: pd.DataFrame, schema: FeatureSchema) -> ReferenceProfile:
        ranges: dict[str, tuple[float, float] | None] = {}
        known: dict[str, frozenset[str]] = {}
        for name in schema.features:
            if name not in reference.columns:
                continue
            values = reference[name].dropna()
            if name in schema.numeric:
                ranges[name] = (values.min(), values.max()) if len(values) else None
            else:
                known[name] = frozenset(values.astype(str))
        return cls(frozenset(reference.columns), ranges, known)


def assess(window: pd.DataFrame, profile: ReferenceProfile, schema: FeatureSchema) -> Quality:
    """Per-feature shares for the window's rows, against a reference's profile."""
    quality = Quality()
    if window.empty:
        return quality
    for name in schema.features:
        if name not in window.columns:
            quality.schema_problems.append(f"{name}: missing from the window")
            continue
        if name not in profile.columns:
            quality.schema_problems.append(f"{name}: missing from the reference")
            continue
        column = window[name]
        quality.missing_share[name] = round(float(column.isna().mean()), 6)
        present = column.dropna()
        if name in schema.numeric:
            if not pd.api.types.is_numeric_dtype(column):
                quality.schema_problems.append(f"{name}: non-numeric values in a numeric feature")
                continue
            bounds = profile.ranges[name]
            if len(present) and bounds is not None:
                outside = (present < bounds[0]) | (present > bounds[1])
                quality.out_of_range_share[name] = round(float(outside.mean()), 6)
        elif len(present):
            unseen = ~present.astype(str).isin(profile.known[name])
            quality.unseen_share[name] = round(float(unseen.mean()), 6)
    return quality
