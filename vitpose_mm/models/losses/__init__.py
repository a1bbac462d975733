"""Losses registered into ``mmpose.registry.MODELS``."""
from .ae_loss import ViTPoseAELoss

__all__ = ['ViTPoseAELoss']
