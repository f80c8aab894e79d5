"""The object store every host shares a version's files through, addressed by their sha256.

`store.artifacts_url` names it as an fsspec URL: a folder, or `s3://bucket/prefix` (the `s3` extra installs s3fs;
`gs://` and `az://` work likewise through their fsspec packages). A file lives at `<url>/sha256/<hash>`, so an
upload is idempotent and an object can only ever hold the bytes its name promises; a fetch is verified against
that name before anything opens it. Each host's BentoML model store stays its local cache (see `Registry`).

Retention sweeps the objects no recorded version names (`sweep`), except those written within a grace period: a
version's files are uploaded before its row exists, so a young object may belong to a version being registered.

The URL is shown in messages without credentials or query (a SAS token, a password); `artifacts_options` (keys,
endpoints) never is.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import fsspec
from fsspec.implementations.local import LocalFileSystem

from driftline.core.errors import ArtifactIntegrityError, ArtifactStoreUnavailable

CONTENT_FOLDER = "sha256"
_STAGED = ".partial-"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shown_url(url: str) -> str:
    """`url` as it may appear in a message or log: without user, password or query."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ArtifactStore:
    """Content-addressed files in one fsspec location: `upload` before a version is recorded, `fetch` to load it."""

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        self.url = shown_url(url).rstrip("/")
        try:
            self._fs, root = fsspec.core.url_to_fs(url, **dict(options or {}))
        except ImportError as exc:
            raise ArtifactStoreUnavailable(self.url, "install its fsspec package", type(exc).__name__) from None
        self._root = str(root).rstrip("/")

    def location(self, sha256: str) -> str:
        """Where the file with this hash lives, as shown in messages."""
        return f"{self.url}/{CONTENT_FOLDER}/{sha256}"

    def _key(self, sha256: str) -> str:
        return f"{self._root}/{CONTENT_FOLDER}/{sha256}"

    def upload(self, path: Path, sha256: str) -> None:
        """Store `path` under its hash. An object already there (the same bytes, by its name) is written again all
        the same: its fresh write time puts it inside the sweep's grace until the version naming it is recorded."""
        key = self._key(sha256)
        with self._unavailable(f"{path.name} was not stored and no version was registered"):
            if isinstance(self._fs, LocalFileSystem):  # object stores have no folders to make
                self._fs.makedirs(self._fs._parent(key), exist_ok=True)
            # under a name no reader asks for, then renamed: an interrupted upload never sits at the hash's name
            staged = f"{key}{_STAGED}{secrets.token_hex(8)}"
            self._fs.put_file(str(path), staged)
            self._fs.mv(staged, key)

    def fetch(self, sha256: str, destination: Path, *, version: int | None = None) -> None:
        """Download the file with this hash to `destination`, which appears only once its sha256 matched."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        staged = destination.with_name(f".{destination.name}.{secrets.token_hex(8)}.partial")
        try:
            consequence = "nothing was fetched" if version is None else f"version {version} could not be fetched"
            with self._unavailable(consequence):
                try:
                    self._fs.get_file(self._key(sha256), str(staged))
                except FileNotFoundError:
                    raise ArtifactIntegrityError(self.location(sha256), "object is missing", version=version) from None
            actual = sha256_of(staged)
            if actual != sha256:
                raise ArtifactIntegrityError(
                    self.location(sha256), f"its content's sha256 is {actual[:12]}…", version=version
                )
            os.replace(staged, destination)
        finally:
            staged.unlink(missing_ok=True)

    def sweep(self, keep: Collection[str], *, written_before: float) -> int:
        """Delete the objects whose hash is not in `keep`, and interrupted uploads, written before `written_before`
        (a Unix time); returns how many were deleted. Younger objects stay whatever their name."""
        deleted = 0
        with self._unavailable("no object was swept"):
            try:
                listed = self._fs.ls(f"{self._root}/{CONTENT_FOLDER}", detail=True)
            except FileNotFoundError:  # nothing was ever uploaded
                return 0
            for info in listed:
                name = str(info["name"]).rstrip("/")
                stored = name.rpartition("/")[2]
                if info.get("type") == "directory" or (stored in keep and _STAGED not in stored):
                    continue
                if self._written_at(info) >= written_before or self._rewritten_since_listed(name, written_before):
                    continue
                try:
                    self._fs.rm_file(name)
                except FileNotFoundError:  # another sweep took it first
                    continue
                deleted += 1
        return deleted

    def _rewritten_since_listed(self, name: str, written_before: float) -> bool:
        """Whether an upload wrote `name` again after the listing: asked of the store itself, not of its cache."""
        self._fs.invalidate_cache(name)
        try:
            return self._written_at(self._fs.info(name)) >= written_before
        except FileNotFoundError:  # another sweep took it first
            return True

    def _written_at(self, info: Mapping[str, Any]) -> float:
        """When the listed object was written, as a Unix time, from its listing where the filesystem gives it."""
        if isinstance(info.get("mtime"), (int, float)):  # a local folder
            return float(info["mtime"])
        if isinstance(info.get("LastModified"), datetime):  # S3
            return float(info["LastModified"].timestamp())
        return float(self._fs.modified(info["name"]).timestamp())  # other filesystems: one request per object

    @contextlib.contextmanager
    def _unavailable(self, consequence: str) -> Iterator[None]:
        try:
            yield
        except (ArtifactIntegrityError, ArtifactStoreUnavailable):
            raise
        except Exception as exc:  # every client library has its own errors; none of their text is shown
            raise ArtifactStoreUnavailable(self.url, consequence, type(exc).__name__) from None
