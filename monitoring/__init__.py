"""Drift checks with Evidently, data quality and live performance, the monitor's metrics, reports and HTTP surface."""

from monitoring.check import CheckResult, DriftChecker
from monitoring.drift import DriftResult, FeatureDrift, compare
from monitoring.metrics import PRUNED_TABLES, MonitorMetrics
from monitoring.reports import ReportArchive
from monitoring.server import monitor_app

__all__ = [
    "PRUNED_TABLES",
    "CheckResult",
    "DriftChecker",
    "DriftResult",
    "FeatureDrift",
    "MonitorMetrics",
    "ReportArchive",
    "compare",
    "monitor_app",
]
