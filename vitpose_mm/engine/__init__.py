"""Training-engine pieces registered into mmpose's registries."""
from .hooks import ViTPoseExportHook
from .optim_wrappers import ViTPoseLayerDecayOptimWrapperConstructor

__all__ = ['ViTPoseExportHook', 'ViTPoseLayerDecayOptimWrapperConstructor']
