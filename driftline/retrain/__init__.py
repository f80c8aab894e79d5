"""Training: data checks, the scikit-learn pipeline, holdout evaluation, artifacts and registration."""

from driftline.retrain.train import TrainingOutcome, train

__all__ = ["TrainingOutcome", "train"]
