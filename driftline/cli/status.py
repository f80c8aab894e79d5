"""What `driftline status` shows: the production version, the running shadow and its progress, every version,
promotions, shadow decisions, the last checks (with their estimated performance, domain-classifier AUC and weighted
drift), training runs and when the next drift-triggered retrain may run."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from driftline.core import (
    ModelVersion,
    Registry,
    RetrainSettings,
    compared_values,
    retrain_backoff,
    shadow_progress,
)


def collect(registry: Registry, retrain: RetrainSettings) -> dict[str, Any]:
    store = registry.store
    versions = registry.versions()
    return {
        "production_version": store.production_version(),
        "shadow": shadow_progress(store),
        "shadows": store.shadow_history(limit=10),
        "versions": [_version(v) for v in versions],
        "promotions": store.promotion_history(),
        "training_runs": store.list_runs(),
        "last_checks": store.last_checks(),
        "next_runs": store.scheduled_runs(),
        "next_drift_retrain": retrain_backoff(retrain, store).to_dict(),
    }


def _version(v: ModelVersion) -> dict[str, Any]:
    value, baseline = compared_values(v.details)
    return {
        "version": v.version,
        "status": v.status,
        "status_reason": v.status_reason,
        "created_at": v.created_at,
        "artifact_tag": v.artifact_tag,
        "metric": v.details.get("metric"),
        "value": value,
        "baseline": baseline,
        # `baseline` is a dummy model's score on the training holdout, or the champion's on the retrain's
        "baseline_kind": "dummy" if v.champion_version is None else "champion",
        "champion_version": v.champion_version,
        "rows_train": (v.details.get("data") or {}).get("rows_train"),
        "trigger": v.details.get("trigger"),
    }


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def scores(version: dict[str, Any]) -> str:
    """A version's score beside what it was compared with, saying what that was."""
    metric, value, baseline = version["metric"], _num(version["value"]), _num(version["baseline"])
    if version["baseline_kind"] == "champion":
        return f"candidate {metric} {value} vs champion v{version['champion_version']} {baseline} on the same holdout"
    return f"{metric} {value} vs dummy baseline {baseline}"


def shadow_line(shadow: dict[str, Any] | None) -> str:
    """The running shadow and how far it is, in one line."""
    if shadow is None:
        return "none"
    doing = "candidate beside" if shadow["purpose"] == "candidate" else "replaced champion watching"
    return (
        f"v{shadow['version']} ({doing} v{shadow['champion_version']}) since {_when(shadow['started_at'])}: "
        f"{shadow['labelled_rows']}/{shadow['needed_rows']} labelled requests"
    )


def check_figures(summary: dict[str, Any]) -> str:
    """A check's label-free estimate, domain-classifier AUC and weighted drift score, each beside its threshold and
    verdict; the parts a check did not compute (or a record from before they existed) are left out."""
    parts = []
    estimate = summary.get("estimated_performance") or {}
    if estimate.get("value") is not None:
        threshold = "no threshold" if estimate["threshold"] is None else f"threshold {estimate['threshold']:.4f}"
        parts.append(
            f"estimated {estimate['metric']} {estimate['value']:.4f} [{_num(estimate['lower'])}, "
            f"{_num(estimate['upper'])}] {threshold}: " + ("alert" if estimate["alert"] else "ok")
        )
    multivariate = summary.get("multivariate_drift")
    if multivariate:
        verdict = "drift" if multivariate["drifted"] else "no drift"
        parts.append(
            f"domain classifier AUC {multivariate['auc']:.3f} threshold {multivariate['threshold']}: {verdict}"
        )
    weighted = summary.get("weighted_drift")
    if weighted:
        verdict = "drift" if weighted["drifted"] else "no drift"
        equal = " (equal weights)" if weighted.get("equal_weights") else ""
        parts.append(f"weighted drift {weighted['score']:.2f}{equal} threshold {weighted['threshold']}: {verdict}")
    return "; ".join(parts)


def next_retrain(backoff: dict[str, Any], now: float) -> str:
    at = backoff["allowed_at"]
    if at is None:
        return f"any time ({backoff['reason']})"
    return f"{'allowed since' if at <= now else 'not before'} {_when(at)} ({backoff['reason']})"


def render(status: dict[str, Any], now: float | None = None) -> str:
    lines = [f"production version: {status['production_version'] or 'none'}", "", "versions:"]
    for v in status["versions"]:
        marker = "*" if v["version"] == status["production_version"] else " "
        lines.append(
            f" {marker} v{v['version']:<4} {v['status']:<11} {_when(v['created_at'])}  {scores(v)}  {v['artifact_tag']}"
            + (f"  [{v['status_reason']}]" if v["status_reason"] and v["status"] != "production" else "")
        )
    lines += ["", "shadow:", f"   {shadow_line(status['shadow'])}"]
    lines += ["", "promotions:"]
    for p in status["promotions"]:
        lines.append(
            f"   {_when(p['at'])}  v{p['previous_version'] or '-'} -> v{p['version']}  {p['kind']:<8} {p['reason']}"
        )
    lines += ["", "shadow decisions (latest first):"]
    for s in status["shadows"]:
        if s["status"] != "running":
            lines.append(
                f"   {_when(s['finished_at'])}  v{s['version']} {s['purpose']:<9} {s['status']:<11} {s['reason']}"
            )
    lines += ["", "last drift checks (latest first):"]
    for c in status["last_checks"]:
        share = (
            f"drift share {c['drift_share']:.2f}"
            if c["drift_share"] is not None
            else (c["summary"].get("reason") or "")
        )
        lines.append(f"   {_when(c['checked_at'])}  v{c['model_version']}  {c['outcome']:<8} {share}")
        figures = check_figures(c["summary"])
        if figures:
            lines.append(f"      {figures}")
    lines += ["", "next scheduled runs:"]
    for job, at in status["next_runs"].items():
        lines.append(f"   {job:<18} {_when(at) if at else 'paused'}")
    if not status["next_runs"]:
        lines.append("   none (no monitor has run on this store)")
    lines += [
        "",
        "next drift-triggered retrain:",
        f"   {next_retrain(status['next_drift_retrain'], now or time.time())}",
    ]
    lines += ["", "training runs (latest first):"]
    for r in status["training_runs"][:10]:
        lines.append(
            f"   #{r['id']:<4} {_when(r['started_at'])}  {r['trigger']:<8} {r['status']:<9} "
            f"v{r['version'] or '-'}  {r['message'] or ''}"
        )
    return "\n".join(lines)
