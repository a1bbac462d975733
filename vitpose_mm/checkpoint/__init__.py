"""ViTPose checkpoints: reading files and converting between layouts.

Layouts, one module each with its key table and special cases:

- ``vitpose_mm`` (ours): ``TopdownPoseEstimator`` + ``ViTPoseBackbone`` +
  ``HeatmapHead``; see :mod:`.convert`.
- ``original`` (ViTAE-Transformer/ViTPose): :mod:`.original`.
- ``mmpose`` (mmpose 1.x model zoo, mmpretrain ViT): :mod:`.mmpose_mmpretrain`.
- ``hf`` (transformers ``VitPoseForPoseEstimation``): :mod:`.hf`.
- ``mae`` (bare MAE / timm backbone, read only): :mod:`.mae`.

ViTPose+ (MoE) checkpoints, in our layout: :mod:`.moe` splits one into a
plain ViTPose per dataset, merges plain ones back, and initialises the
experts from a dense checkpoint. :mod:`.experts` holds what every ViTPose+
piece shares: the released dataset order, dataset name/index -> expert,
and the ``[fc2; expert]`` row layout.

Fitting weights to a model (:mod:`.fit`): :func:`fit_state_dict` converts,
resizes ``pos_embed`` and checks, and every load calls it (the backbone's
``init_cfg``, the pose models' load pre-hook, the APIs, the tools). This
package never imports :mod:`vitpose_mm.models`; it reads models by their
state-dict keys and a few attributes.

Typical use::

    state = load_state_dict_file('vitpose-b.pth')
    model.load_state_dict(check_fits(model, state), strict=True)
"""
from .convert import LAYOUTS, TARGETS, convert_state_dict, detect_layout
from .experts import RELEASED_DATASETS, resolve_dataset
from .fit import Fit, check_fits, check_same_tensors, fit_state_dict
from .io import (UnsafeCheckpointError, checkpoint_problem,
                 load_state_dict_file, save_state_dict_file,
                 unwrap_state_dict)
from .moe import (expert_config, init_experts, merge_experts, select_head,
                  split_experts)

__all__ = [
    'Fit', 'LAYOUTS', 'RELEASED_DATASETS', 'TARGETS', 'UnsafeCheckpointError',
    'check_fits', 'check_same_tensors', 'checkpoint_problem',
    'convert_state_dict', 'detect_layout', 'expert_config', 'fit_state_dict',
    'init_experts', 'load_state_dict_file', 'merge_experts',
    'resolve_dataset', 'save_state_dict_file', 'select_head', 'split_experts',
    'unwrap_state_dict'
]
