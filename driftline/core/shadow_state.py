"""The running shadow and how far it is, as `driftline status` and the service's GET /model show it; and the
start of a watch, which the monitor, the CLI and the admin API start alike."""

from __future__ import annotations

from typing import Any

from driftline.core.store import Store


def start_watch(store: Store, *, version: int, previous: int | None, rows: int, reason: str) -> int | None:
    """Run `previous`, the champion `version` just replaced, as its shadow for `rows` labelled requests; returns the
    shadow's id, None when there is nothing to watch (no rows asked, or no previous version)."""
    if not rows or previous is None:
        return None
    return store.start_shadow(
        previous,
        champion_version=version,
        purpose="watch",
        needed_rows=rows,
        reason=f"watching version {version} against version {previous}, which it replaced: {reason}",
    )


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
