"""ViTPose checkpoints: reading files and converting between layouts.

Layouts, one module each with its key table and special cases:

- ``vitpose_mm`` (ours): ``TopdownPoseEstimator`` + ``ViTPoseBackbone`` +
  ``HeatmapHead``; see :mod:`.convert`.
- ``original`` (ViTAE-Transformer/ViTPose): :mod:`.original`.
- ``mmpose`` (mmpose 1.x model zoo, mmpretrain ViT): :mod:`.mmpose_mmpretrain`.
- ``hf`` (transformers ``VitPoseForPoseEstimation``): :mod:`.hf`.
- ``mae`` (bare MAE / timm backbone, read only): :mod:`.mae`.

Typical use::

    state = load_state_dict_file('vitpose-b.pth')
    model.load_state_dict(check_fits(model, state), strict=True)
"""
from .convert import (LAYOUTS, TARGETS, check_fits, convert_state_dict,
                      detect_layout)
from .io import (UnsafeCheckpointError, load_state_dict_file,
                 save_state_dict_file, unwrap_state_dict)

__all__ = [
    'LAYOUTS', 'TARGETS', 'UnsafeCheckpointError', 'check_fits',
    'convert_state_dict', 'detect_layout', 'load_state_dict_file',
    'save_state_dict_file', 'unwrap_state_dict'
]
