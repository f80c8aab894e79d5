"""The part of a check's HTML report that Evidently does not write: drift that matters and multivariate drift.

Evidently's page shows each feature's test. Above it, a short section shows the importance-weighted drift score,
the domain classifier's verdict, and a table of every feature's drift beside its importance and its weight in the
score, most important first. The check keeps the section's data with its comparison (`summary_of`), so a report
rendered later shows what the check found, whatever the settings are by then.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from monitoring.drift import DriftResult


def summary_of(drift: DriftResult) -> dict[str, Any]:
    """What the section shows, as JSON-ready values."""
    weighted, multivariate = drift.weighted, drift.multivariate
    return {
        "features": sorted(drift.feature_rows(), key=lambda f: -(f.get("weight") or 0.0)),
        "weighted_drift": weighted.to_dict() if weighted else None,
        "multivariate_drift": multivariate.to_dict() if multivariate else None,
    }


def add_summary(page: Path, summary: dict[str, Any] | None) -> None:
    """Put the section at the top of the body of the HTML page at `page` (nothing without a summary)."""
    if not summary:
        return
    text = page.read_text(encoding="utf-8")
    body = text.find("<body")
    at = text.find(">", body) + 1 if body >= 0 else 0
    page.write_text(text[:at] + section(summary) + text[at:], encoding="utf-8")


def section(summary: dict[str, Any]) -> str:
    """The section's HTML; every value is escaped."""
    lines = ['<section id="driftline-summary" style="font-family: sans-serif; margin: 16px 24px">']
    lines.append("<h2>Drift that matters</h2>")
    weighted = summary.get("weighted_drift")
    if weighted:
        weights = (
            f"equal weights: {weighted['equal_weights_because']}"
            if weighted["equal_weights"]
            else f"permutation importance on the holdout ({weighted['importance_metric']})"
        )
        lines.append(
            f"<p>Importance-weighted drift score: {_number(weighted['score'])} "
            f"(threshold {_number(weighted['threshold'])}): {_verdict(weighted['drifted'])}. "
            f"Weights: {html.escape(weights)}.</p>"
        )
    multivariate = summary.get("multivariate_drift")
    if multivariate:
        lines.append(
            f"<p>Multivariate drift ({html.escape(multivariate['method'])}): {_number(multivariate['auc'])} "
            f"(threshold {_number(multivariate['threshold'])}, 0.5: no drift): {_verdict(multivariate['drifted'])}.</p>"
        )
    header = ("feature", "kind", "test", "score", "threshold", "drifted", "importance", "weight")
    lines.append('<table border="1" cellpadding="4" style="border-collapse: collapse">')
    lines.append("<tr>" + "".join(f"<th>{name}</th>" for name in header) + "</tr>")
    for feature in summary.get("features", []):
        cells = [
            html.escape(str(feature["feature"])),
            html.escape(str(feature["kind"])),
            html.escape(str(feature["test"])),
            _number(feature["score"]),
            _number(feature["threshold"]),
            _verdict(feature["drifted"]),
            _number(feature.get("importance")),
            _number(feature.get("weight")),
        ]
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    lines.append("</table></section>")
    return "\n".join(lines)


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4g}"


def _verdict(drifted: Any) -> str:
    return "drifted" if drifted else "no drift"
