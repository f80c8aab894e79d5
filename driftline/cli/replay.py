"""`driftline replay`: stream held-out real rows to a running service, then their true labels, and report live.

Rows are sent in time order as `/predict` requests at a chosen rate; each row's true label goes to `/feedback`
after a delay (for a chosen fraction of rows), the way late ground truth arrives in production. A summary line per
interval shows rows sent, the model versions that answered, and the accuracy of the answers whose labels are known.
"""

from __future__ import annotations

import collections
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from driftline.core import plain


@dataclass
class ReplayStats:
    sent: int = 0
    failed: int = 0
    labelled: int = 0
    versions: collections.Counter[int] = field(default_factory=collections.Counter)
    correct: int = 0
    scored: int = 0
    by_period: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(
        self, period: str, version: int, correct: bool | None, score: float | None = None, truth: Any = None
    ) -> None:
        entry = self.by_period.setdefault(
            period, {"rows": 0, "correct": 0, "scored": 0, "versions": set(), "scores": [], "truths": []}
        )
        entry["rows"] += 1
        if score is not None:
            entry["scores"].append(score)
            entry["truths"].append(str(truth))
        entry["versions"].add(version)
        self.versions[version] += 1
        if correct is not None:
            entry["scored"] += 1
            entry["correct"] += int(correct)
            self.scored += 1
            self.correct += int(correct)


def replay(
    url: str,
    rows: pd.DataFrame,
    features: list[str],
    target: str,
    *,
    time_column: str | None,
    rows_per_second: float,
    batch: int,
    label_delay: float,
    label_fraction: float,
    seed: int = 0,
    report_every: float = 5.0,
    out: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> ReplayStats:
    """Send `rows` to `url` and their labels after `label_delay` seconds; returns what happened."""
    stats = ReplayStats()
    rng = np.random.default_rng(seed)
    pending: collections.deque[tuple[float, str, Any]] = collections.deque()
    payload = rows[features].astype(object).where(rows[features].notna(), None).to_dict("records")
    labels = rows[target].tolist()
    periods = (
        rows[time_column].dt.strftime("%Y-%m").tolist() if time_column and time_column in rows else ["all"] * len(rows)
    )
    started = time.monotonic()
    next_report = started + report_every
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(payload), batch):
            due = started + start / rows_per_second
            while time.monotonic() < due:
                time.sleep(min(0.05, max(due - time.monotonic(), 0)))
            _send_labels(client, url, pending, stats, now=time.monotonic())
            chunk = payload[start : start + batch]
            try:
                response = client.post(f"{url}/predict", json=chunk)
            except httpx.HTTPError:
                stats.failed += len(chunk)
                continue
            if response.status_code != 200:
                stats.failed += len(chunk)
                continue
            answer = response.json()
            for offset, prediction in enumerate(answer["predictions"]):
                index = start + offset
                truth = labels[index]
                correct = str(prediction["prediction"]) == str(truth)
                stats.sent += 1
                stats.record(periods[index], answer["model_version"], correct, prediction.get("probability"), truth)
                if rng.random() < label_fraction:
                    pending.append((time.monotonic() + label_delay, prediction["request_id"], plain(truth)))
            if time.monotonic() >= next_report:
                out(summary_line(stats, periods[min(start + batch, len(periods) - 1)], time.monotonic() - started))
                next_report += report_every
        deadline = time.monotonic() + label_delay + 5
        while pending and time.monotonic() < deadline:
            _send_labels(client, url, pending, stats, now=time.monotonic())
            time.sleep(0.1)
    out(summary_line(stats, periods[-1] if periods else "-", time.monotonic() - started))
    return stats


def _send_labels(
    client: httpx.Client,
    url: str,
    pending: collections.deque[tuple[float, str, Any]],
    stats: ReplayStats,
    *,
    now: float,
) -> None:
    ready: list[dict[str, Any]] = []
    while pending and pending[0][0] <= now and len(ready) < 5000:
        _, request_id, label = pending.popleft()
        ready.append({"request_id": request_id, "label": label})
    if not ready:
        return
    try:
        response = client.post(f"{url}/feedback", json=ready)
    except httpx.HTTPError:
        return
    if response.status_code == 200:
        stats.labelled += len(ready)


def summary_line(stats: ReplayStats, period: str, elapsed: float) -> str:
    accuracy = stats.correct / stats.scored if stats.scored else math.nan
    versions = ", ".join(f"v{v}: {n}" for v, n in sorted(stats.versions.items()))
    return (
        f"[replay] {elapsed:6.1f} s  at {period}  sent {stats.sent:,}  labelled {stats.labelled:,}  "
        f"failed {stats.failed:,}  accuracy {accuracy:.3f}  answered by {versions or '-'}"
    )


def timeline(stats: ReplayStats) -> str:
    """Accuracy and (binary) ROC AUC of the answers per period (month for the flights data), and who answered."""
    lines = ["period     rows  accuracy  roc_auc  versions"]
    for period, entry in sorted(stats.by_period.items()):
        accuracy = entry["correct"] / entry["scored"] if entry["scored"] else math.nan
        versions = ",".join(f"v{v}" for v in sorted(entry["versions"]))
        lines.append(f"{period:8s} {entry['rows']:6,}     {accuracy:.3f}    {period_auc(entry):.3f}  {versions}")
    return "\n".join(lines)


def period_auc(entry: dict[str, Any]) -> float:
    """ROC AUC of the positive-class probabilities against the truth; NaN when it cannot be computed."""
    truths = entry["truths"]
    if len(truths) < 100 or len(set(truths)) != 2 or len(truths) != len(entry["scores"]):
        return math.nan
    from sklearn.metrics import roc_auc_score

    positive = sorted(set(truths))[-1]
    return float(roc_auc_score([t == positive for t in truths], entry["scores"]))
