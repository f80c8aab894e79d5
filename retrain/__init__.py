"""Training, champion/challenger retraining, its trigger, and the monitor's APScheduler loop."""

from retrain.challenger import RetrainDecision, retrain
from retrain.loop import MonitorLoop
from retrain.training import TrainingOutcome, train

__all__ = [
    "MonitorLoop",
    "RetrainDecision",
    "TrainingOutcome",
    "retrain",
    "train",
]
