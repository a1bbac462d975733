"""Heads registered into ``mmpose.registry.MODELS``."""
from .ae_head import ViTPoseAEHead

__all__ = ['ViTPoseAEHead']
