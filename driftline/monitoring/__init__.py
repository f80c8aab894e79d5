"""Drift checks with Evidently, data quality and live performance, the monitor's metrics, reports and HTTP surface."""

from driftline.monitoring.check import CheckResult, DriftChecker
from driftline.monitoring.drift import DriftResult, FeatureDrift, compare
from driftline.monitoring.metrics import MonitorMetrics
from driftline.monitoring.reports import ReportArchive
from driftline.monitoring.server import monitor_app

__all__ = [
    "CheckResult",
    "DriftChecker",
    "DriftResult",
    "FeatureDrift",
    "MonitorMetrics",
    "ReportArchive",
    "compare",
    "monitor_app",
]
