from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from driftline.core import DataError, Store
from retrain.runs import recorded_run


class CountingStore(Store):
    """A real SQLite store that counts how often a run is finished, and can fail the first time it is."""

    def __init__(self, url: str, *, finishing_fails: bool = False) -> None:
        super().__init__(url)
        self.finished: list[str] = []
        self.finishing_fails = finishing_fails

    def finish_run(self, run_id: int, *, status: str, **fields: Any) -> None:
        self.finished.append(status)
        if self.finishing_fails:
            raise OSError("disk full")
        super().finish_run(run_id, status=status, **fields)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    store = CountingStore(f"sqlite:///{tmp_path / 'runs.db'}")
    yield store
    store.dispose()


def last_run(store: Store) -> Mapping[str, Any]:
    return store.list_runs()[0]


def test_a_failure_inside_records_the_run_as_failed_with_the_error(store: CountingStore) -> None:
    """An exception in the block finishes the run as failed, with the exception's type and text."""
    with pytest.raises(ValueError, match="boom"), recorded_run(store, "test"):
        raise ValueError("boom")
    assert ("failed", "ValueError: boom") == (last_run(store)["status"], last_run(store)["message"])


def test_a_failure_inside_is_recorded_once(store: CountingStore) -> None:
    """The failed run is finished exactly once."""
    with pytest.raises(ValueError), recorded_run(store, "test"):
        raise ValueError("boom")
    assert ["failed"] == store.finished


def test_a_domain_error_is_recorded_with_its_own_message(store: CountingStore) -> None:
    """A Driftline error's message is the reason, without its type name."""
    with pytest.raises(DataError), recorded_run(store, "test"):
        raise DataError("only 10 labelled live rows")
    assert "only 10 labelled live rows" == last_run(store)["message"]


def test_a_run_is_running_until_its_outcome_is_known(store: CountingStore) -> None:
    """Leaving the block without an error finishes nothing; the caller records the outcome."""
    with recorded_run(store, "test"):
        pass
    assert ("running", []) == (last_run(store)["status"], store.finished)


def test_a_succeeded_run_keeps_its_version_message_and_details(store: CountingStore) -> None:
    """`succeed` records the version, the decision and the details given."""
    with recorded_run(store, "cli") as run:
        pass
    run.succeed(version=3, message="promoted", details={"duration_seconds": 1.5})
    recorded = last_run(store)
    assert ("succeeded", 3, "promoted", {"duration_seconds": 1.5}, "cli") == (
        recorded["status"],
        recorded["version"],
        recorded["message"],
        recorded["details"],
        recorded["trigger"],
    )


def test_a_store_error_while_finishing_is_not_recorded_a_second_time(tmp_path: Path) -> None:
    """When recording the success itself fails, the run is not finished again as failed; the error propagates."""
    store = CountingStore(f"sqlite:///{tmp_path / 'runs.db'}", finishing_fails=True)
    with pytest.raises(OSError, match="disk full"), recorded_run(store, "test") as run:
        run.succeed(version=1, message="done", details={})
    assert ["succeeded"] == store.finished
    store.dispose()
