"""Pose estimators registered into ``mmpose.registry.MODELS``."""
from .vitpose_plus import ViTPosePlusEstimator

__all__ = ['ViTPosePlusEstimator']
