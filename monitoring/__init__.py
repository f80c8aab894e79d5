"""Drift checks with Evidently, data quality and live performance, the monitor's metrics, reports and HTTP surface."""

from monitoring.check import CheckResult, DriftChecker
from monitoring.dle import DLE_METRICS, nanny_inputs, row_loss
from monitoring.drift import DriftResult, FeatureDrift, compare
from monitoring.estimation import EstimatedPerformance, PerformanceEstimation, performance_frame
from monitoring.metrics import PRUNED_TABLES, MonitorMetrics
from monitoring.reports import ReportArchive
from monitoring.server import monitor_app

__all__ = [
    "DLE_METRICS",
    "PRUNED_TABLES",
    "CheckResult",
    "DriftChecker",
    "DriftResult",
    "EstimatedPerformance",
    "FeatureDrift",
    "MonitorMetrics",
    "PerformanceEstimation",
    "ReportArchive",
    "compare",
    "monitor_app",
    "nanny_inputs",
    "performance_frame",
    "row_loss",
]
