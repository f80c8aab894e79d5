"""Log lines that carry their data in the text itself.

BentoML's worker log format prints only the message, so fields passed in `extra` alone are lost there (the
database error behind a 503, the version a worker refused). `log_event` renders the fields into the message,
`event: key=value ...`, and still passes them as `extra` for the CLI's JSON formatter.
"""

from __future__ import annotations

import logging
from typing import Any


def render(event: str, fields: dict[str, Any]) -> str:
    """`event: key=value ...` with each value's repr, or just `event` without fields."""
    if not fields:
        return event
    return f"{event}: " + " ".join(f"{name}={value!r}" for name, value in fields.items())


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `event` with `fields` both in the text and as structured `extra`."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", render(event, fields), extra=fields)
