"""Models of vitpose_mm: backbones and their layers."""
from .backbones import VITPOSE_ARCHS, ViTPoseBackbone

__all__ = ['VITPOSE_ARCHS', 'ViTPoseBackbone']
