"""Training-engine pieces registered into mmpose's registries."""
from .hooks import AtomicCheckpointHook, ViTPoseExportHook
from .optim_wrappers import ViTPoseLayerDecayOptimWrapperConstructor

__all__ = [
    'AtomicCheckpointHook', 'ViTPoseExportHook',
    'ViTPoseLayerDecayOptimWrapperConstructor'
]
