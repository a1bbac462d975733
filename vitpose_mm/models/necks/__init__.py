"""Necks registered into ``mmpose.registry.MODELS``."""
from .upsample_neck import ViTPoseUpsampleNeck

__all__ = ['ViTPoseUpsampleNeck']
