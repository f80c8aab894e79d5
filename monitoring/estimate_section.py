"""The label-free performance estimate at the top of a check's HTML report, above Evidently's drift tables.

Evidently renders the drift; the estimate is Driftline's own, so it is written as a small HTML block of its own
and placed right after the page's `<body>` tag. Every value is escaped: metric names and reasons come from the
config and the check, never from request data, but a page should not trust that.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"


def estimate_section(estimate: dict[str, Any]) -> str:
    """One table row of the estimate (value, band, threshold, alert), or the reason there is none."""
    metric = html.escape(str(estimate.get("metric", "")))
    if estimate.get("value") is None:
        reason = html.escape(str(estimate.get("reason") or "not estimated"))
        body = f"<p>Estimated {metric}: {reason}.</p>"
    else:
        method = html.escape(str(estimate.get("method") or "").upper())
        alert = "ALERT: worse than the threshold" if estimate.get("alert") else "within the threshold"
        body = (
            "<table><tr><th>metric</th><th>estimate</th><th>sampling-error band</th><th>threshold</th>"
            "<th>alert</th><th>rows</th></tr>"
            f"<tr><td>{metric} ({method})</td><td>{_number(estimate['value'])}</td>"
            f"<td>{_number(estimate.get('lower'))} to {_number(estimate.get('upper'))}</td>"
            f"<td>{_number(estimate.get('threshold'))}</td><td>{html.escape(alert)}</td>"
            f"<td>{int(estimate.get('rows') or 0)}</td></tr></table>"
        )
    return (
        '<section id="driftline-estimated-performance" style="font-family:sans-serif;margin:16px">'
        f"<h2>Estimated performance (no labels needed)</h2>{body}</section>"
    )


def add_estimate_section(path: Path, estimate: dict[str, Any]) -> None:
    """Write the estimate's section into the rendered page at `path`, after its `<body>` tag."""
    page = path.read_text(encoding="utf-8")
    at = page.find("<body")
    end = page.find(">", at) + 1 if at >= 0 else 0
    path.write_text(page[:end] + estimate_section(estimate) + page[end:], encoding="utf-8")
