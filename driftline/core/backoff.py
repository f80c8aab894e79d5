"""When the next drift-triggered retrain may run, and why: the cool-down, doubled per rejected retrain in a row.

A drift that retraining cannot fix would otherwise have the monitor train, and the guardrail reject, a candidate
every cool-down for as long as the drift lasts. After each drift-triggered retrain that is rejected, the wait
before the next one doubles, up to `retrain.backoff_max_seconds`. A retrain whose candidate passed its holdout and
went to the shadow phase counts by how the shadow ended: rejected on live requests, or short of labels after
`shadow_max_seconds`, is a rejection; promoted is a promotion; still running, or replaced by a newer shadow, is
neither (like a failed run, it neither counts nor ends the streak). A promotion of any kind, an operator's
`driftline retrain` (or `train`), or a check that finds no drift ends the streak. Scheduled (cron) retrains run on
their schedule regardless; their rejections do not count.

The wait is worked out from the history the store keeps (training runs, promotions, checks), never from a
process's memory, so a restarted or newly elected monitor, `driftline status` and every service worker's
`GET /model` give the same answer. It lives in the core because the service reports it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from driftline.core.settings import RetrainSettings
from driftline.core.store import Store

RETRAIN_TRIGGERS = ("drift", "schedule", "cli")  # runs that start a cool-down; `cli` is also an operator's reset
RUNS_READ = 30  # a longer streak only meets the cap: 2**22 s is beyond the largest cap allowed (30 days)


@dataclass(frozen=True)
class RetrainHistory:
    """The records the back-off depends on."""

    runs: Sequence[Mapping[str, Any]]
    """Training runs, latest first (`Store.list_runs`)."""
    last_promotion_at: float | None
    """When production last changed, by any kind of promotion."""
    last_quiet_check_at: float | None
    """When a check last found no drift."""
    shadow_statuses: Mapping[int, str] = field(default_factory=dict)
    """How the shadows of the runs that started one ended, by shadow id (`running` while undecided)."""


@dataclass(frozen=True)
class RetrainBackoff:
    """When the next drift-triggered retrain may start and why."""

    allowed_at: float | None
    """Unix time; None when no retrain has run yet (nothing to wait for)."""
    wait_seconds: int
    """The wait after the last retrain: the cool-down, doubled once per rejection in a row, capped."""
    rejected_in_a_row: int
    """Drift-triggered retrains rejected since the last promotion, manual retrain or check without drift."""
    kind: str
    """`none` (no retrain yet), `cooldown` (no rejection streak), `backoff` (doubled) or `capped`."""
    reason: str
    """The same in words."""

    def allows(self, now: float) -> bool:
        return self.allowed_at is None or now >= self.allowed_at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backoff_wait(settings: RetrainSettings, rejected_in_a_row: int) -> int:
    """The cool-down doubled once per rejection, never above the cap nor below the cool-down itself."""
    cooldown = settings.cooldown_seconds
    doubled = cooldown * 2 ** min(rejected_in_a_row, RUNS_READ)
    return max(cooldown, min(doubled, settings.backoff_max_seconds))


def decide_backoff(settings: RetrainSettings, history: RetrainHistory) -> RetrainBackoff:
    """The back-off that `history` calls for (pure: no store, no clock)."""
    retrains = [r for r in history.runs if r["trigger"] in RETRAIN_TRIGGERS]
    if not retrains:
        return RetrainBackoff(None, settings.cooldown_seconds, 0, "none", "no retrain has run yet")
    last_retrain_at = max(r["started_at"] for r in retrains)
    resets = [
        (history.last_promotion_at, "a promotion"),
        (history.last_quiet_check_at, "a check without drift"),
        (max((r["started_at"] for r in retrains if r["trigger"] == "cli"), default=None), "a manual retrain"),
    ]
    reset_at, reset_by = max(((at, why) for at, why in resets if at is not None), default=(None, ""))
    outcomes = [(run, _outcome(run, history.shadow_statuses)) for run in history.runs if run["trigger"] == "drift"]
    decided = [(run, outcome) for run, outcome in outcomes if outcome in ("promoted", "rejected")]
    streak = 0
    for run, outcome in decided:  # latest first; failed runs and undecided shadows neither count nor break it
        if outcome != "rejected" or (reset_at is not None and run["started_at"] <= reset_at):
            break
        streak += 1
    wait = backoff_wait(settings, streak)
    cooldown = settings.cooldown_seconds
    after = f"after the retrain at {_when(last_retrain_at)}"
    if streak == 0:
        kind, reason = "cooldown", f"the cool-down of {cooldown} s {after}"
        if decided and decided[0][1] == "rejected" and reset_at is not None:
            reason += f" (back-off reset by {reset_by} at {_when(reset_at)})"
    else:
        rejected = f"{streak} drift-triggered retrain{'s' if streak > 1 else ''} rejected in a row"
        if wait < cooldown * 2**streak:
            kind, reason = "capped", f"{rejected}: the cool-down of {cooldown} s doubled, capped at {wait} s"
        else:
            kind, reason = "backoff", f"{rejected}: the cool-down of {cooldown} s doubled to {wait} s"
        reason += f", {after}"
    return RetrainBackoff(last_retrain_at + wait, wait, streak, kind, reason)


def read_retrain_history(store: Store) -> RetrainHistory:
    """The runs, the last promotion and the last check without drift, from the store."""
    promotion = store.current_promotion()
    runs = store.list_runs(limit=RUNS_READ)
    return RetrainHistory(
        runs=runs,
        last_promotion_at=promotion["at"] if promotion else None,
        last_quiet_check_at=store.last_check_at("ok"),
        shadow_statuses=store.shadow_statuses([i for i in map(_shadow_id, runs) if i is not None]),
    )


def retrain_backoff(settings: RetrainSettings, store: Store) -> RetrainBackoff:
    """When the next drift-triggered retrain may run on this store, and why."""
    return decide_backoff(settings, read_retrain_history(store))


def _outcome(run: Mapping[str, Any], shadow_statuses: Mapping[int, str]) -> str | None:
    """The run's outcome; for one that started a shadow, the shadow's end: rejected (on live requests or for want
    of labels in time), promoted, or None while it runs or after a newer shadow replaced it."""
    if run["status"] != "succeeded":
        return str(run["status"])
    outcome = (run.get("details") or {}).get("outcome")
    if outcome != "shadow":
        return outcome
    shadow_id = _shadow_id(run)
    status = shadow_statuses.get(shadow_id) if shadow_id is not None else None
    return status if status in ("rejected", "promoted") else None


def _shadow_id(run: Mapping[str, Any]) -> int | None:
    """The shadow a run's candidate went to, if it went to one."""
    shadow_id = ((run.get("details") or {}).get("evidence") or {}).get("shadow_id")
    return int(shadow_id) if shadow_id is not None else None


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
