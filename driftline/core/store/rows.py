"""The rows the store hands out, typed: one per kind, keyed by column name as the tables define them.

TypedDicts rather than classes, so readers in every package keep reading `row["kind"]`, and a row is still the
plain JSON-ready dict `driftline status --json` prints. JSON columns stay `dict[str, Any]`, except a version's
details, whose shape core defines (`VersionDetails`). A test checks every row type against its table's columns.
"""

from __future__ import annotations

from typing import Any, NamedTuple, NotRequired, TypedDict

from driftline.core.details import VersionDetails


class VersionRow(TypedDict):
    """A registered model version (`model_versions`)."""

    version: int
    name: str
    created_at: float
    status: str  # registered | shadow | production | archived | rejected
    status_reason: str | None
    artifact_dir: str  # relative to the model store folder
    artifact_tag: str  # the BentoML model tag
    hashes: dict[str, str]  # file name -> sha256
    schema: dict[str, Any]
    details: VersionDetails


class PromotionRow(TypedDict):
    """One change of the production pointer and why (`promotions`)."""

    id: int
    at: float
    version: int
    previous_version: int | None
    kind: str  # initial | auto | manual | rollback
    reason: str
    evidence: dict[str, Any]


class RunRow(TypedDict):
    """A training run (`training_runs`); `finished_at`, `version` and `message` stay None while it runs."""

    id: int
    started_at: float
    finished_at: float | None
    trigger: str
    status: str  # running | succeeded | waiting (for labels) | failed
    version: int | None
    message: str | None
    details: dict[str, Any] | None


class CheckRow(TypedDict):
    """A drift check the monitor recorded (`checks`)."""

    id: int
    checked_at: float
    model_version: int
    outcome: str
    drift_share: float | None
    summary: dict[str, Any]


class ShadowRow(TypedDict):
    """A version predicting beside the champion, or one that did, and the decision (`shadows`)."""

    id: int
    started_at: float
    finished_at: float | None
    version: int
    champion_version: int
    purpose: str  # candidate | watch
    status: str  # running | promoted | rejected | replaced | kept | rolled_back
    needed_rows: int
    reason: str | None
    evidence: dict[str, Any]


class ShadowedRow(TypedDict):
    """A labelled request both the champion and the shadow answered: both outputs and the label."""

    request_id: str
    champion_output: dict[str, Any]
    shadow_output: dict[str, Any]
    label: Any


class LabelledRow(TypedDict):
    """A logged prediction's features with the label sent for it later."""

    id: int
    created_at: float
    model_version: int
    features: dict[str, Any]
    label: Any


class Payload(TypedDict):
    """What never changes in a logged prediction: its output, and its features unless read without them."""

    output: dict[str, Any]
    features: NotRequired[dict[str, Any]]


class SampledRow(Payload):
    """A logged prediction picked for a window's sample, with its label (None until one is sent)."""

    request_id: str
    created_at: float
    label: Any


class Picked(NamedTuple):
    """The logged predictions picked for a window's sample, column by column, in id order; a label is None until
    one is sent."""

    ids: list[int]
    request_ids: list[str]
    created_at: list[float]
    labels: list[Any]
