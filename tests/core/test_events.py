from __future__ import annotations

import logging

import pytest

from driftline.core import log_event


def test_log_event_renders_its_fields_into_the_message(caplog: pytest.LogCaptureFixture) -> None:
    """A log format that prints only the message still shows the event's fields; they stay structured too."""
    logger = logging.getLogger("tests.events")
    with caplog.at_level(logging.INFO, logger="tests.events"):
        log_event(logger, logging.WARNING, "store unavailable", error="OperationalError: gone", attempt=2)
    record = caplog.records[-1]
    assert ("store unavailable: error='OperationalError: gone' attempt=2", "OperationalError: gone") == (
        record.getMessage(),
        record.__dict__["error"],
    )
