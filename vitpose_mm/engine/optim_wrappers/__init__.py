"""Optim-wrapper constructors registered into mmpose's
``OPTIM_WRAPPER_CONSTRUCTORS``."""
from .layer_decay_constructor import (ViTPoseLayerDecayOptimWrapperConstructor,
                                      get_layer_id, get_lr_scale,
                                      is_no_weight_decay)

__all__ = [
    'ViTPoseLayerDecayOptimWrapperConstructor', 'get_layer_id', 'get_lr_scale',
    'is_no_weight_decay'
]
