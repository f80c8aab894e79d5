"""Domain errors shared by every package.

Each error builds its message from its arguments so the text a user sees names what was wrong. The service maps
these to HTTP status codes in one place (`service.errors`); the CLI prints them and exits non-zero.
"""

from __future__ import annotations

from collections.abc import Iterable


class DriftlineError(Exception):
    """Raised for any failure Driftline can explain to its user; the base of every project error."""


class ConfigError(DriftlineError):
    """Raised when the configuration file or a DRIFTLINE_ variable is missing, unreadable or invalid."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"config field {field!r}: {reason}")


class DataError(DriftlineError):
    """Raised when a dataset cannot be used: unreadable file, missing columns, wrong types, too few rows."""

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {reason}" if source else reason)


class TooFewLabels(DataError):
    """Raised when a retrain finds fewer labelled live rows than `retrain.min_labeled_rows` to train and compare on."""

    def __init__(self, rows: int, needed: int) -> None:
        self.rows = rows
        self.needed = needed
        super().__init__(f"only {rows} labelled live rows; a retrain needs at least {needed}")


class InvalidInput(DriftlineError):
    """Raised when a request's rows do not match the feature schema; `field` names the offending feature."""

    def __init__(self, field: str, reason: str, *, row: int | None = None) -> None:
        self.field = field
        self.reason = reason
        self.row = row
        where = f"row {row}, " if row is not None else ""
        super().__init__(f"{where}field {field!r}: {reason}")


class PayloadTooLarge(DriftlineError):
    """Raised when a request body or batch exceeds the configured serving limits."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"{what} is {size:,}, over the limit of {limit:,}")


class UnknownRequestIds(DriftlineError):
    """Raised when feedback names request ids that no logged prediction carries."""

    def __init__(self, request_ids: Iterable[str]) -> None:
        self.request_ids = sorted(request_ids)
        shown = ", ".join(self.request_ids[:10])
        more = f" (and {len(self.request_ids) - 10} more)" if len(self.request_ids) > 10 else ""
        super().__init__(f"unknown request_id: {shown}{more}; nothing was recorded")


class StoreUnavailable(DriftlineError):
    """Raised when the store cannot be read or written right now; the caller may try again later. The message is
    for clients: the database's own error (hosts, ports) goes to the log, not into it."""

    def __init__(self, doing: str) -> None:
        super().__init__(f"the store is unavailable; {doing}")


class NoProductionModel(DriftlineError):
    """Raised when something needs the production model and none has been promoted yet."""

    def __init__(self) -> None:
        super().__init__("no model version is in production; run `driftline train` first")


class UnknownVersion(DriftlineError):
    """Raised when a model version asked for is not registered."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"model version {version} is not registered")


class ArtifactIntegrityError(DriftlineError):
    """Raised when a stored artifact is missing, or its sha256 differs from the one recorded at registration."""

    def __init__(self, path: str, reason: str, *, version: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.version = version
        owner = f"model version {version}: " if version is not None else ""
        super().__init__(f"{owner}model artifact {path} refused: {reason}")


class ArtifactStoreUnavailable(DriftlineError):
    """Raised when the artifact store cannot be reached or read right now; the caller may try again later.

    `url` is the store's URL as it may be shown (no credentials, no query); the client library's own error, which
    can carry request details, is reduced to its type.
    """

    def __init__(self, url: str, doing: str, cause: str) -> None:
        self.url = url
        self.doing = doing
        super().__init__(f"the artifact store {url} is unavailable ({cause}); {doing}")


class PromotionRefused(DriftlineError):
    """Raised when a promotion or rollback cannot be carried out; production is left unchanged."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"promotion refused: {reason}; production unchanged")


class SchemaOutdated(DriftlineError):
    """Raised when the store's schema is at an older revision than this release needs; nothing was changed."""

    def __init__(self, current: str, head: str) -> None:
        self.current = current
        self.head = head
        super().__init__(
            f"the store's schema is at revision {current} and this release needs {head}: "
            "back up the store, then run `driftline db upgrade`"
        )


class SchemaUnrecognised(DriftlineError):
    """Raised when the store's database holds a schema this release cannot place among its revisions."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the store's schema is not one this release can use: {reason}")
