"""Evidently HTML reports of past checks on disk: the newest N are kept and listed latest first."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from driftline.monitoring.drift import DriftResult

_NAME = re.compile(r"^check-\d{8}T\d{6}\d{6}Z-v\d+\.html$")


class ReportArchive:
    """A folder of `check-<UTC time>-v<version>.html` files."""

    def __init__(self, folder: Path, keep: int) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, drift: DriftResult, version: int, at: float) -> Path:
        stamp = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.folder / f"check-{stamp}-v{version}.html"
        temporary = path.with_suffix(".tmp")
        drift.save_html(temporary)
        temporary.replace(path)  # a reader never sees a half-written report
        for old in self.list()[self.keep :]:
            old.unlink(missing_ok=True)
        return path

    def list(self) -> list[Path]:
        """Report files, latest first."""
        return sorted((p for p in self.folder.glob("check-*.html") if _NAME.match(p.name)), reverse=True)

    def get(self, name: str) -> Path | None:
        """The report called `name`, if it is one of ours (no path tricks)."""
        if not _NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None
