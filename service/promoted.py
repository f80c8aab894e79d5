"""The production model as this worker serves it, swapped in the background when the pointer moves.

Every worker watches the production pointer in the store itself (a reload endpoint would reach only the worker
that served it). A swap loads and verifies the new version off the request path, then replaces one reference:
requests that already hold the old model finish on it; new ones get the new one.

A version whose files this host lacks is fetched from the shared artifact store first. When that store cannot be
reached the worker keeps serving what it has and tries again after a pause that doubles (up to
`FETCH_RETRY_MAX_SECONDS`); a file that arrives with the wrong sha256 is refused like a tampered local one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from driftline.core import ArtifactStoreUnavailable, DriftlineError, LoadedModel, Registry, log_event
from service.polling import Poller

log = logging.getLogger(__name__)

FETCH_RETRY_MAX_SECONDS = 60.0


class PromotedModel:
    """Holds the loaded production version; `current` is what a request should use."""

    def __init__(self, registry: Registry, *, fetch_retry_seconds: float = 1.0) -> None:
        self._registry = registry
        self._current = registry.load(registry.production().version)
        self._refused: int | None = None
        self.on_refused: list[Callable[[int, DriftlineError], None]] = []  # e.g. a metric of refused swaps
        self.on_fetch_failed: list[Callable[[int, DriftlineError], None]] = []  # e.g. a metric of failed fetches
        self._fetch_retry_seconds = fetch_retry_seconds
        self._fetch_failures = 0
        self._retry_at = 0.0
        self._poller = Poller("model-watch", self.swap_if_changed, "production pointer check failed")

    @property
    def current(self) -> LoadedModel:
        return self._current

    def swap_if_changed(self) -> bool:
        """Load the production version if it differs from the served one; True when a swap happened."""
        wanted = self._registry.store.production_version()
        if wanted is None or wanted == self._current.version or wanted == self._refused:
            return False
        if time.monotonic() < self._retry_at:
            return False
        try:
            loaded = self._registry.load(wanted)
        except ArtifactStoreUnavailable as exc:
            self._fetch_failed(wanted, exc)
            return False
        except DriftlineError as exc:
            # keep serving what works; try again only when the pointer moves to another version
            self._refused = wanted
            # the text says it all: BentoML's worker log format drops `extra`
            log.error(
                "new production version %s refused, still serving %s: %s",
                wanted,
                self._current.version,
                exc,
                extra={"version": wanted, "error": str(exc)},
            )
            for hook in self.on_refused:
                hook(wanted, exc)
            return False
        previous = self._current.version
        self._current = loaded
        self._refused = None
        self._fetch_failures = 0
        self._retry_at = 0.0
        log_event(log, logging.INFO, "production model swapped", from_version=previous, to_version=wanted)
        return True

    def _fetch_failed(self, wanted: int, exc: ArtifactStoreUnavailable) -> None:
        """Keep serving; try `wanted` again after a pause that doubles with every failure in a row."""
        self._fetch_failures += 1
        pause = min(self._fetch_retry_seconds * 2 ** (self._fetch_failures - 1), FETCH_RETRY_MAX_SECONDS)
        self._retry_at = time.monotonic() + pause
        log.warning(
            "new production version %s not fetched, still serving %s, trying again in %.0f s: %s",
            wanted,
            self._current.version,
            pause,
            exc,
        )
        for hook in self.on_fetch_failed:
            hook(wanted, exc)

    def watch(self, poll_seconds: float) -> None:
        """Check the pointer every `poll_seconds` on a daemon thread until `stop()`."""
        self._poller.start(poll_seconds)

    def stop(self) -> None:
        self._poller.stop()
