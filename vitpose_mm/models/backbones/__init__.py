"""Backbones registered into ``mmpose.registry.MODELS``."""
from .vit import VITPOSE_ARCHS, ViTPoseBackbone

__all__ = ['VITPOSE_ARCHS', 'ViTPoseBackbone']
