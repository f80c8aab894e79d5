"""The store: every record Driftline keeps, in one SQL database (SQLite file by default, PostgreSQL by URL)."""

from driftline.core.store.live import Store, feedback, predictions

__all__ = ["Store", "feedback", "predictions"]
