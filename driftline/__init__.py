"""Driftline: serve the promoted scikit-learn model, watch its live traffic, retrain and promote unattended."""

__version__ = "0.1.0"
