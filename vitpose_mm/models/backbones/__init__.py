"""Backbones registered into ``mmpose.registry.MODELS``."""
from .vit import VITPOSE_ARCHS, ViTPoseBackbone
from .vit_moe import VITPOSE_PLUS_PART_FEATURES, ViTPosePlusBackbone

__all__ = ['VITPOSE_ARCHS', 'VITPOSE_PLUS_PART_FEATURES', 'ViTPoseBackbone',
           'ViTPosePlusBackbone']
