"""Pydantic request models generated from the production model's feature schema.

Because the models are built from the schema, BentoML's OpenAPI document names every feature and its type, and
bad rows are refused with a 400 naming the field before any code of ours runs: unknown or missing features, wrong
types, NaN or infinity or a magnitude over 1e18 in numeric fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from driftline.bentoml_compat import json_root_spec
from driftline.core import MAX_CATEGORY_LENGTH, MAX_MAGNITUDE, FeatureSchema


def row_model(schema: FeatureSchema) -> type[BaseModel]:
    """One flat object per row: numbers for numeric features, strings for categorical ones, null when missing."""
    fields: dict[str, Any] = {}
    for name in schema.numeric:
        fields[name] = (
            float | None,
            # strict: JSON true/false or "12" is not a number (integers still are)
            Field(
                ...,
                allow_inf_nan=False,
                strict=True,
                ge=-MAX_MAGNITUDE,
                le=MAX_MAGNITUDE,
                description=f"numeric feature {name}; null when missing",
            ),
        )
    for name in schema.categorical:
        fields[name] = (
            str | None,
            Field(..., max_length=MAX_CATEGORY_LENGTH, description=f"categorical feature {name}; null when missing"),
        )
    return create_model(
        "FeatureRow",
        __config__=ConfigDict(extra="forbid", strict=False, title="FeatureRow"),
        **fields,
    )


def feedback_item_model(schema: FeatureSchema) -> type[BaseModel]:
    """One late label: the request id a prediction answered with, and the true value."""
    label: Any = float if schema.task == "regression" else (str | int | float | bool)
    return create_model(
        "FeedbackItem",
        __config__=ConfigDict(extra="forbid"),
        request_id=(str, Field(..., min_length=1, max_length=64, description="request_id of a prediction")),
        label=(label, Field(..., description="the true target value")),
    )


# the app declares its specs beside the models they carry; the spec itself is a BentoML hook
__all__ = ["feedback_item_model", "json_root_spec", "row_model"]
