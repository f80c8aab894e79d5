"""The live window a check looks at: recent predictions of one model version, with their late labels.

Only a random sample of at most `sample_rows` rows is read from the store, however large the window, so a check
costs the same with a thousand rows logged or a million; rows a check has already decoded are not read again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftline.core.schema import FeatureSchema
from driftline.core.store import Store

PREDICTION = "__prediction__"
LABEL = "__label__"


@dataclass(frozen=True)
class LiveWindow:
    """A sample of a window's rows as features, the model's prediction, its output and the label if known."""

    version: int
    rows: int
    labelled_rows: int
    first_id: int
    last_id: int
    start: float | None
    end: float | None
    sample: pd.DataFrame
    labelled: pd.DataFrame

    def bounds(self) -> dict[str, Any]:
        return {"first_id": self.first_id, "last_id": self.last_id, "start": self.start, "end": self.end}


def prediction_value(output: dict[str, Any], schema: FeatureSchema) -> Any:
    """What prediction drift is measured on, matching the reference: P(positive) for binary, else the prediction."""
    if schema.task == "classification" and len(schema.classes) == 2:
        return output.get("probability")
    return output.get("prediction")


def to_frame(records: list[dict[str, Any]], schema: FeatureSchema) -> pd.DataFrame:
    """Features (missing when the records were read without them), prediction, label, output and arrival time."""
    if records and "features" not in records[0]:
        frame = pd.DataFrame(index=range(len(records)))
    else:
        features = pd.DataFrame.from_records([r["features"] for r in records], columns=list(schema.features))
        frame = schema.coerce(features) if len(features) else features
    frame[PREDICTION] = [prediction_value(r["output"], schema) for r in records]
    frame[LABEL] = [r.get("label") for r in records]
    frame["__output__"] = [r["output"] for r in records]
    frame["__created_at__"] = [r["created_at"] for r in records]
    return frame


def load_window(
    store: Store,
    schema: FeatureSchema,
    *,
    version: int,
    window_rows: int,
    window_seconds: int | None,
    sample_rows: int,
    now: float | None = None,
    decoded: dict[int, dict[str, Any]] | None = None,
) -> LiveWindow:
    """The most recent `window_rows` rows served by `version` (or those of the last `window_seconds`).

    Pass the same `decoded` dict to every check and rows still in the sample are not read or decoded again (see
    `Store.window_rows`).
    """
    since = (now or time.time()) - window_seconds if window_seconds else None
    first, last, count = store.window_ids(version=version, rows=window_rows, since=since)
    if count == 0:
        empty = to_frame([], schema)
        return LiveWindow(version, 0, 0, 0, 0, None, None, empty, empty)
    sample = to_frame(
        store.window_rows(version=version, first=first, last=last, limit=sample_rows, decoded=decoded), schema
    )
    labelled_count = store.count_labelled(version=version, first=first, last=last)
    # the live metric needs outputs and labels only
    labelled = to_frame(
        store.window_rows(
            version=version, first=first, last=last, limit=sample_rows, labelled_only=True, with_features=False
        ),
        schema,
    )
    created = sample["__created_at__"]
    return LiveWindow(
        version=version,
        rows=count,
        labelled_rows=labelled_count,
        first_id=first,
        last_id=last,
        start=float(created.min()) if len(created) else None,
        end=float(created.max()) if len(created) else None,
        sample=sample,
        labelled=labelled,
    )
