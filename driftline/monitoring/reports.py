"""Evidently HTML reports of past checks on disk: the newest N are kept and listed latest first.

A check stores what it compared (`check-<UTC time>-v<version>.html.parquet`, both samples and the test settings);
the HTML page (`check-<UTC time>-v<version>.html`) is rendered from it the first time someone asks for it, then
served from disk. The monitor's checks stay cheap, and only the reports someone opens cost a render.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from driftline.monitoring.drift import Compared, DriftResult, render

log = logging.getLogger(__name__)

_NAME = re.compile(r"^check-(\d{8}T\d{6}\d{6})Z-v\d+\.html$")
_SIDE = "__compared_side__"
_META = b"driftline.compared"


class ReportError(Exception):
    """A stored comparison that cannot be rendered (unreadable or damaged file)."""


class ReportArchive:
    """A folder of checks' comparisons and the reports rendered from them, named by UTC time and version."""

    def __init__(self, folder: Path, keep: int) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.folder.mkdir(parents=True, exist_ok=True)
        self._rendering = threading.Lock()

    def save(self, drift: DriftResult, version: int, at: float) -> str:
        """Keep `drift`'s comparison for a report; returns the report's name."""
        stamp = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"check-{stamp}-v{version}.html"
        temporary = self.folder / f"{name}.tmp"
        write_compared(drift.compared, temporary)
        temporary.replace(self._pending(name))  # a reader never sees a half-written file
        for old in self.list()[self.keep :]:
            self._pending(old).unlink(missing_ok=True)
            (self.folder / old).unlink(missing_ok=True)
        return name

    def list(self) -> list[str]:
        """Report names, latest first, rendered or not."""
        names = {p.name for p in self.folder.glob("check-*.html")}
        names |= {p.name.removesuffix(".parquet") for p in self.folder.glob("check-*.html.parquet")}
        return sorted((n for n in names if _NAME.match(n)), reverse=True)

    @staticmethod
    def taken_at(name: str) -> dt.datetime:
        """The UTC time of the check a report name stands for."""
        found = _NAME.match(name)
        if not found:
            raise ValueError(f"not a report name: {name!r}")
        return dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=dt.UTC)

    def get(self, name: str) -> Path | None:
        """The HTML page of report `name`, rendered now if it is not yet; None if there is no such report of ours
        (no path tricks). Raises ReportError when the stored comparison cannot be rendered."""
        if not _NAME.match(name):
            return None
        path = self.folder / name
        if path.is_file():  # rendered already: no need to wait behind another report's render
            return path
        with self._rendering:  # one render at a time: a second request for the same page waits and reuses it
            if path.is_file():
                return path
            pending = self._pending(name)
            if not pending.is_file():
                return None
            try:
                compared = read_compared(pending)
            except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
                raise ReportError(f"the stored comparison of {name} cannot be read: {exc}") from exc
            temporary = self.folder / f"{name}.render"
            try:
                render(compared, temporary)
            except Exception as exc:  # Evidently failing on stored data is this report's problem, not the monitor's
                temporary.unlink(missing_ok=True)
                raise ReportError(f"{name} could not be rendered: {type(exc).__name__}: {exc}") from exc
            temporary.replace(path)
            pending.unlink(missing_ok=True)
            log.info("drift report rendered", extra={"report": name})
            return path

    def _pending(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"


def write_compared(compared: Compared, path: Path) -> None:
    """Both samples in one Parquet file (a column tells them apart), the test settings in its metadata."""
    frame = pd.concat(
        [compared.reference.assign(**{_SIDE: "reference"}), compared.current.assign(**{_SIDE: "current"})],
        ignore_index=True,
    )
    table = pa.Table.from_pandas(frame, preserve_index=False)
    settings = {
        "numeric": compared.numeric,
        "categorical": compared.categorical,
        "method": compared.method,
        "drift_share": compared.drift_share,
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META: json.dumps(settings).encode()})
    pq.write_table(table, path)


def read_compared(path: Path) -> Compared:
    table = pq.read_table(path)
    settings = json.loads((table.schema.metadata or {})[_META])
    frame = table.to_pandas()
    sides = frame.pop(_SIDE)
    return Compared(
        reference=frame[sides == "reference"].reset_index(drop=True),
        current=frame[sides == "current"].reset_index(drop=True),
        numeric=list(settings["numeric"]),
        categorical=list(settings["categorical"]),
        method=settings["method"],
        drift_share=float(settings["drift_share"]),
    )
