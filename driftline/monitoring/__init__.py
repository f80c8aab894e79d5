"""Drift checks with Evidently and the monitor's Prometheus metrics."""

__all__: list[str] = []
