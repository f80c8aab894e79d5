"""Pydantic request models generated from the production model's feature schema.

Because the models are built from the schema, BentoML's OpenAPI document names every feature and its type, and
bad rows are refused with a 400 naming the field before any code of ours runs: unknown or missing features, wrong
types, NaN or infinity in numeric fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from driftline.core.schema import FeatureSchema

_MAX_CATEGORY_LENGTH = 200


def row_model(schema: FeatureSchema) -> type[BaseModel]:
    """One flat object per row: numbers for numeric features, strings for categorical ones, null when missing."""
    fields: dict[str, Any] = {}
    for name in schema.numeric:
        fields[name] = (
            float | None,
            Field(..., allow_inf_nan=False, description=f"numeric feature {name}; null when missing"),
        )
    for name in schema.categorical:
        fields[name] = (
            str | None,
            Field(..., max_length=_MAX_CATEGORY_LENGTH, description=f"categorical feature {name}; null when missing"),
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


def root_input(annotation: Any, title: str) -> type[Any]:
    """A BentoML root-input spec (the body is the value itself) whose JSON schema is computed once.

    BentoML 1.4 rebuilds the JSON schema of a root input on every request, just to learn whether the body is a
    string; for a list of feature rows that is most of the cost of a small request. The schema cannot change after
    start, so it is built here once. `IORootModel` is BentoML's own base for root inputs.
    """
    from _bentoml_sdk.io_models import IORootModel

    base: Any = IORootModel[annotation]
    schema = base.model_json_schema()
    schema["root_input"] = True

    def model_json_schema(cls: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(schema) if not args and not kwargs else base.model_json_schema(*args, **kwargs)

    spec: type[Any] = type(
        title, (base,), {"__root_input__": True, "model_json_schema": classmethod(model_json_schema)}
    )
    return spec
