"""A load generator for fault tests: client threads that record when each request was sent, how it ended, and
the request ids of every answered prediction, so a test can account for each one after the fault.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.factories import feature_row, make_loans


@dataclass
class Outcome:
    """One request: when it was sent and answered (monotonic seconds), and how it ended."""

    sent: float
    done: float
    status: int | None  # None when the connection failed
    error: str = ""
    request_ids: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return self.done - self.sent


class Load:
    """Client threads posting /predict in a loop, each on its own keep-alive connection, until `stop()`."""

    def __init__(self, url: str, threads: int = 4, *, rows: int = 2, pause: float = 0.0, limit: float = 110) -> None:
        frame = make_loans(50, seed=11)
        self._bodies = [[feature_row(frame, (i + j) % 50) for j in range(rows)] for i in range(50)]
        self._url = url
        self._pause = pause
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit  # the load ends by itself even if a test forgets to stop it
        self._lock = threading.Lock()
        self.outcomes: list[Outcome] = []
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=40)

    def _client(self, offset: int) -> None:
        index = offset
        with httpx.Client(timeout=httpx.Timeout(30, connect=5)) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                body = self._bodies[index % len(self._bodies)]
                index += 1
                sent = time.monotonic()
                try:
                    response = client.post(f"{self._url}/predict", json=body)
                except httpx.HTTPError as exc:
                    outcome = Outcome(sent, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
                else:
                    ids = []
                    if response.status_code == 200:
                        ids = [p["request_id"] for p in response.json()["predictions"]]
                    error = "" if response.status_code == 200 else response.text[:200]
                    outcome = Outcome(sent, time.monotonic(), response.status_code, error, ids)
                with self._lock:
                    self.outcomes.append(outcome)
                if outcome.status is None:
                    time.sleep(0.05)  # a refused connection comes back at once: do not spin
                elif self._pause:
                    time.sleep(self._pause)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def ok_since(self, moment: float) -> int:
        return sum(1 for o in self.snapshot() if o.status == 200 and o.sent >= moment)


def answered_ids(outcomes: list[Outcome]) -> list[str]:
    return [rid for o in outcomes if o.status == 200 for rid in o.request_ids]
