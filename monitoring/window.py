"""The live window a check looks at: recent predictions of one model version, with their late labels.

Only a random sample of at most `sample_rows` rows is read from the store, however large the window, so a check
costs the same with a thousand rows logged or a million; rows a check has already decoded are not read again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftline.core import PREDICTION_COLUMN, FeatureSchema, Payload, SampledRow, Store

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
    return schema.prediction_summary(output)


def to_frame(records: Sequence[SampledRow], schema: FeatureSchema) -> pd.DataFrame:
    """Features (missing when the records were read without them), prediction, label, output and arrival time."""
    frame = _payload_frame(records, schema)
    frame[LABEL] = [r.get("label") for r in records]
    frame["__created_at__"] = [r["created_at"] for r in records]
    return frame


def _payload_frame(payloads: Sequence[Payload], schema: FeatureSchema) -> pd.DataFrame:
    """What never changes in a logged row: its features (coerced, when read), prediction and output."""
    if payloads and "features" not in payloads[0]:
        frame = pd.DataFrame(index=range(len(payloads)))
    else:
        features = pd.DataFrame.from_records([p["features"] for p in payloads], columns=list(schema.features))
        frame = schema.coerce(features) if len(features) else features
    frame[PREDICTION_COLUMN] = [prediction_value(p["output"], schema) for p in payloads]
    frame["__output__"] = [p["output"] for p in payloads]
    return frame


class SampleCache:
    """The rows of the last sample a check read, as a frame by id, so the next check builds only the rows new to it.

    A window that slides by a few seconds keeps most of its sample (the pick is repeatable: see
    `Store.window_sample`), and reading, decoding and converting those rows again was most of a check's reading
    cost. Labels are not kept: they arrive late and are read every time. One cache per kind of read (this one is
    for reads with features); one read at a time.
    """

    def __init__(self) -> None:
        self.frame: pd.DataFrame | None = None  # indexed by prediction id

    @property
    def ids(self) -> set[int]:
        return set(self.frame.index) if self.frame is not None else set()

    def sample(self, store: Store, schema: FeatureSchema, **window: Any) -> pd.DataFrame:
        """The window's sample as `to_frame` builds it from `store.window_rows(**window)`; kept for the next."""
        known = self.ids
        picked, payloads = store.window_sample(**window, known=known)
        new = [i for i in picked.ids if i in payloads]
        fresh = _payload_frame([payloads[i] for i in new], schema).set_axis(pd.Index(new, dtype="int64"))
        parts = [part for part in (self.frame, fresh) if part is not None and len(part)]
        rows = pd.concat(_alike(*parts)) if len(parts) == 2 else (parts[0] if parts else fresh)
        present = [i in known or i in payloads for i in picked.ids]
        self.frame = rows = rows.loc[list(itertools.compress(picked.ids, present))]
        frame = rows.reset_index(drop=True)
        frame[LABEL] = list(itertools.compress(picked.labels, present))
        frame["__created_at__"] = list(itertools.compress(picked.created_at, present))
        return frame


def _alike(kept: pd.DataFrame, fresh: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both parts, where their dtypes differ because one has no values in a column, with the other's dtype there:
    joined, they have the dtypes one read of all their rows gives (a prediction column of floats, say, though none
    of the new rows has one)."""
    for name in [name for name in fresh.columns if fresh[name].dtype != kept[name].dtype]:
        if fresh[name].isna().all():
            fresh = fresh.astype({name: kept[name].dtype})
        elif kept[name].isna().all():
            kept = kept.astype({name: fresh[name].dtype})
    return kept, fresh


def load_window(
    store: Store,
    schema: FeatureSchema,
    *,
    version: int,
    window_rows: int,
    window_seconds: int | None,
    sample_rows: int,
    now: float | None = None,
    cache: SampleCache | None = None,
) -> LiveWindow:
    """The most recent `window_rows` rows served by `version` (or those of the last `window_seconds`).

    Pass the same `cache` to every check and rows still in the sample are not read or built again.
    """
    since = (now or time.time()) - window_seconds if window_seconds else None
    first, last, count = store.window_ids(version=version, rows=window_rows, since=since)
    if count == 0:
        empty = to_frame([], schema)
        return LiveWindow(version, 0, 0, 0, 0, None, None, empty, empty)
    sample = (cache or SampleCache()).sample(store, schema, version=version, first=first, last=last, limit=sample_rows)
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
