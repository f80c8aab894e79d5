"""Evidently HTML reports of past checks on disk: the newest N are kept and listed latest first, and retention deletes
those older than its `reports_days`.

A check stores what it compared: the window's sample and the test settings in
`check-<UTC time>-v<version>.html.parquet`, and the reference sample in `reference-<content hash>.parquet`, written
once and shared by every check that compared the same sample (as a rule, every check of a model version). The HTML
page (`check-<UTC time>-v<version>.html`) is rendered from them the first time someone asks for it, then served from
disk. The monitor's checks stay cheap, and only the reports someone opens cost a render.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from driftline.core import log_event
from monitoring.drift import Compared, DriftResult, render
from monitoring.report_summary import add_summary, summary_of

log = logging.getLogger(__name__)

_NAME = re.compile(r"^check-(\d{8}T\d{6}\d{6})Z-v\d+\.html$")
_REFERENCE = re.compile(r"^reference-[0-9a-f]{32}\.parquet$")
_SIDE = "__compared_side__"  # files written before references were shared hold both samples, told apart by it
_META = b"driftline.compared"
_SUMMARY = b"driftline.summary"  # what the report shows above Evidently's page (files of older checks lack it)
# a reference file younger than this is never swept: another writer may have just written it for a check to come
_SWEEP_AFTER_SECONDS = 600


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
        reference, created = self._keep_reference(drift.compared.reference)
        temporary = self.folder / f"{name}.tmp"
        write_compared(drift.compared, temporary, reference=reference, summary=summary_of(drift))
        temporary.replace(self._pending(name))  # a reader never sees a half-written file
        for old in self.list()[self.keep :]:
            self._delete(old)
        if created:  # a new reference is rare (a new version): the time to let go of those no check needs
            self._sweep_references()
        return name

    def prune(self, before: float) -> int:
        """Delete the reports of checks taken before `before` (a Unix time), then the reference samples no report
        left needs; returns how many reports went."""
        gone = [name for name in self.list() if self.taken_at(name).timestamp() < before]
        for name in gone:
            self._delete(name)
        if gone:
            self._sweep_references()
        return len(gone)

    def _delete(self, name: str) -> None:
        """Delete report `name`, rendered or not."""
        self._pending(name).unlink(missing_ok=True)
        (self.folder / name).unlink(missing_ok=True)

    def references(self) -> list[str]:
        """Stored reference samples, by file name."""
        return sorted(p.name for p in self.folder.glob("reference-*.parquet") if _REFERENCE.match(p.name))

    def _keep_reference(self, frame: pd.DataFrame) -> tuple[str, bool]:
        """The file holding reference sample `frame`, written now if no earlier check stored the same sample;
        True when it was."""
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
        name = f"reference-{digest.hexdigest()[:32]}.parquet"
        path = self.folder / name
        with contextlib.suppress(FileNotFoundError):
            if time.time() - path.stat().st_mtime > _SWEEP_AFTER_SECONDS / 2:
                os.utime(path)  # in use again: out of reach of a sweep by another writer in this folder
            return name, False
        temporary = self.folder / f"{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), temporary)
        temporary.replace(path)
        return name, True

    def _sweep_references(self) -> None:
        """Delete reference samples no stored comparison names (rendered reports no longer need theirs)."""
        needed = set()
        for name in self.list():
            # rendered or pruned meanwhile (gone), or damaged (its report fails on its own): needs no reference
            with contextlib.suppress(OSError, ValueError, KeyError, pa.ArrowException):
                settings = json.loads((pq.read_schema(self._pending(name)).metadata or {})[_META])
                needed.add(settings.get("reference"))
        for name in self.references():
            path = self.folder / name
            with contextlib.suppress(FileNotFoundError):  # another writer swept it first
                if name not in needed and time.time() - path.stat().st_mtime > _SWEEP_AFTER_SECONDS:
                    path.unlink()

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
                summary = read_summary(pending)
            except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
                raise ReportError(f"the stored comparison of {name} cannot be read: {exc}") from exc
            temporary = self.folder / f"{name}.render"
            try:
                render(compared, temporary)
                add_summary(temporary, summary)
            except Exception as exc:  # Evidently failing on stored data is this report's problem, not the monitor's
                temporary.unlink(missing_ok=True)
                raise ReportError(f"{name} could not be rendered: {type(exc).__name__}: {exc}") from exc
            temporary.replace(path)
            pending.unlink(missing_ok=True)
            log_event(log, logging.INFO, "drift report rendered", report=name)
            return path

    def _pending(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"


def write_compared(compared: Compared, path: Path, *, reference: str, summary: dict[str, Any] | None = None) -> None:
    """The window's sample in a Parquet file; the test settings, the name of the reference sample's file (in the
    same folder) and the check's summary for the report in its metadata."""
    table = pa.Table.from_pandas(compared.current, preserve_index=False)
    settings = {
        "numeric": compared.numeric,
        "categorical": compared.categorical,
        "method": compared.method,
        "drift_share": compared.drift_share,
        "reference": reference,
        "estimated_performance": compared.estimated_performance,
    }
    metadata = {**(table.schema.metadata or {}), _META: json.dumps(settings).encode()}
    if summary is not None:
        metadata[_SUMMARY] = json.dumps(summary).encode()
    table = table.replace_schema_metadata(metadata)
    pq.write_table(table, path)


def read_summary(path: Path) -> dict[str, Any] | None:
    """The check's summary kept with a stored comparison; None for comparisons stored without one."""
    stored = (pq.read_schema(path).metadata or {}).get(_SUMMARY)
    return json.loads(stored) if stored else None


def read_compared(path: Path) -> Compared:
    """A stored comparison, with its reference sample read from the file it names (or from the same file, for
    comparisons stored with both samples)."""
    table = pq.read_table(path)
    settings = json.loads((table.schema.metadata or {})[_META])
    frame = table.to_pandas()
    if _SIDE in frame.columns:
        sides = frame.pop(_SIDE)
        reference, current = frame[sides == "reference"], frame[sides == "current"]
    else:
        name = settings["reference"]
        if not isinstance(name, str) or not _REFERENCE.match(name):
            raise ValueError(f"names no reference sample file: {name!r}")
        reference, current = pq.read_table(path.parent / name).to_pandas(), frame
    return Compared(
        reference=reference.reset_index(drop=True),
        current=current.reset_index(drop=True),
        numeric=list(settings["numeric"]),
        categorical=list(settings["categorical"]),
        method=settings["method"],
        drift_share=float(settings["drift_share"]),
        estimated_performance=settings.get("estimated_performance"),  # absent from comparisons stored before it
    )
