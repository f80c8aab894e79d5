"""What `driftline status` shows: the production version, every version, promotions and training runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from driftline.core import ModelVersion, Registry, compared_values


def collect(registry: Registry) -> dict[str, Any]:
    store = registry.store
    versions = registry.versions()
    return {
        "production_version": store.production_version(),
        "versions": [_version(v) for v in versions],
        "promotions": store.promotion_history(),
        "training_runs": store.list_runs(),
        "last_checks": store.last_checks(),
        "next_runs": store.scheduled_runs(),
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
        "rows_train": (v.details.get("data") or {}).get("rows_train"),
        "trigger": v.details.get("trigger"),
    }


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def render(status: dict[str, Any]) -> str:
    lines = [f"production version: {status['production_version'] or 'none'}", "", "versions:"]
    for v in status["versions"]:
        marker = "*" if v["version"] == status["production_version"] else " "
        lines.append(
            f" {marker} v{v['version']:<4} {v['status']:<11} {_when(v['created_at'])}  "
            f"{v['metric']} {_num(v['value'])} (baseline {_num(v['baseline'])})  {v['artifact_tag']}"
            + (f"  [{v['status_reason']}]" if v["status_reason"] and v["status"] != "production" else "")
        )
    lines += ["", "promotions:"]
    for p in status["promotions"]:
        lines.append(
            f"   {_when(p['at'])}  v{p['previous_version'] or '-'} -> v{p['version']}  {p['kind']:<8} {p['reason']}"
        )
    lines += ["", "last drift checks (latest first):"]
    for c in status["last_checks"]:
        share = (
            f"drift share {c['drift_share']:.2f}"
            if c["drift_share"] is not None
            else (c["summary"].get("reason") or "")
        )
        lines.append(f"   {_when(c['checked_at'])}  v{c['model_version']}  {c['outcome']:<8} {share}")
    lines += ["", "next scheduled runs:"]
    for job, at in status["next_runs"].items():
        lines.append(f"   {job:<18} {_when(at) if at else 'paused'}")
    if not status["next_runs"]:
        lines.append("   none (no monitor has run on this store)")
    lines += ["", "training runs (latest first):"]
    for r in status["training_runs"][:10]:
        lines.append(
            f"   #{r['id']:<4} {_when(r['started_at'])}  {r['trigger']:<8} {r['status']:<9} "
            f"v{r['version'] or '-'}  {r['message'] or ''}"
        )
    return "\n".join(lines)
