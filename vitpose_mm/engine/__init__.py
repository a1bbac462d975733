"""Training-engine pieces registered into mmpose's registries."""
from .optim_wrappers import ViTPoseLayerDecayOptimWrapperConstructor

__all__ = ['ViTPoseLayerDecayOptimWrapperConstructor']
