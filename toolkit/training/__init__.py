"""Helpers of :mod:`toolkit.train`: the config, the paper's recipe, distillation and resumable state."""

from toolkit.training.config import TrainConfig

__all__ = ["TrainConfig"]
