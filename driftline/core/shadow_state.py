"""The running shadow and how far it is, as `driftline status` and the service's GET /model show it."""

from __future__ import annotations

from typing import Any

from driftline.core.store import Store


def shadow_progress(store: Store) -> dict[str, Any] | None:
    """The running shadow (which version, beside which champion, why) and its labelled requests so far out of
    those its decision needs; None when no shadow runs."""
    shadow = store.active_shadow()
    if shadow is None:
        return None
    return {
        "id": shadow["id"],
        "version": shadow["version"],
        "champion_version": shadow["champion_version"],
        "purpose": shadow["purpose"],
        "started_at": shadow["started_at"],
        "labelled_rows": store.count_shadowed_labelled(shadow),
        "needed_rows": shadow["needed_rows"],
        "reason": shadow["reason"],
    }
