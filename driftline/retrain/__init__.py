"""Training, champion/challenger retraining, its trigger, and the monitor's APScheduler loop."""

from driftline.retrain.challenger import RetrainDecision, retrain
from driftline.retrain.train import TrainingOutcome, train

__all__ = ["RetrainDecision", "TrainingOutcome", "retrain", "train"]
