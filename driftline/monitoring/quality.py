"""Data quality of a window against the reference: missing values, unseen categories, out-of-range numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from driftline.core.schema import FeatureSchema


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


def assess(window: pd.DataFrame, reference: pd.DataFrame, schema: FeatureSchema) -> Quality:
    """Per-feature shares for the window's rows."""
    quality = Quality()
    if window.empty:
        return quality
    for name in schema.features:
        if name not in window.columns:
            quality.schema_problems.append(f"{name}: missing from the window")
            continue
        if name not in reference.columns:
            quality.schema_problems.append(f"{name}: missing from the reference")
            continue
        column = window[name]
        quality.missing_share[name] = round(float(column.isna().mean()), 6)
        present = column.dropna()
        if name in schema.numeric:
            if not pd.api.types.is_numeric_dtype(column):
                quality.schema_problems.append(f"{name}: non-numeric values in a numeric feature")
                continue
            ref = reference[name].dropna()
            if len(present) and len(ref):
                outside = (present < ref.min()) | (present > ref.max())
                quality.out_of_range_share[name] = round(float(outside.mean()), 6)
        else:
            known = set(reference[name].dropna().astype(str))
            if len(present):
                quality.unseen_share[name] = round(float((~present.astype(str).isin(known)).mean()), 6)
    return quality
