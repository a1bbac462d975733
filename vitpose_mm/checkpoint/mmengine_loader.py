"""transformers' ViTPose files in mmengine's ``load_checkpoint``:
``.safetensors`` files and ``save_pretrained`` folders.

mmengine picks a checkpoint loader by matching the path against registered
prefixes (``re.match``); a local path goes to ``torch.load``, which cannot
read a safetensors file or a folder. :func:`register_loader` adds one
pattern, :data:`LOCAL_HF_PATTERN` (local paths that end in
``.safetensors`` or in a component without a dot), read by
:func:`load_local_hf`, which takes only what is a ViTPose: a folder whose
``config.json`` says ``model_type`` ``vitpose`` (:func:`is_vitpose_folder`)
or a safetensors file whose tensor names are one of our layouts
(:func:`is_vitpose_safetensors`). Every other path is read exactly as
mmengine reads it (its ``load_from_local``), so other models' loading does
not change. The rule is registered when one of our backbones is built
(:func:`vitpose_mm.models.load_hook.prepare_loading`), not at import. So
``mmpose.apis.init_model``, ``MMPoseInferencer`` and ``load_from`` take
transformers' files for our models; the layout is converted and checked
while the weights load (:mod:`vitpose_mm.models.load_hook`).
"""
import json
import os
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from .convert import detect_layout
from .hf_folder import METADATA_KEY, is_hf_folder, read_hf_folder

#: Local (no ``scheme://``) paths ending in ``.safetensors`` or in a
#: component without a dot (``save_pretrained`` folders).
LOCAL_HF_PATTERN = r'(?!\w+://)(?=.*(?:\.safetensors|(?:^|/)[^/.]+/?)$)'
#: ``model_type`` of transformers' ``VitPoseConfig`` and
#: ``VitPoseBackboneConfig``.
VITPOSE_MODEL_TYPES = ('vitpose', 'vitpose_backbone')


def is_vitpose_folder(path: str) -> bool:
    """Whether ``path`` is a ``save_pretrained`` folder of a ViTPose model
    (its ``config.json`` says ``model_type`` ``vitpose``)."""
    if not is_hf_folder(path):
        return False
    try:
        with open(os.path.join(path, 'config.json')) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return False
    return (isinstance(config, dict)
            and config.get('model_type') in VITPOSE_MODEL_TYPES)


def is_vitpose_safetensors(path: str) -> bool:
    """Whether ``path`` is a safetensors file whose tensor names are one of
    our layouts (read from its header only)."""
    if not (path.endswith('.safetensors') and os.path.isfile(path)):
        return False
    from safetensors import safe_open
    try:
        with safe_open(path, framework='pt') as f:
            names = list(f.keys())
    except Exception:  # not a safetensors file: mmengine's own error
        return False
    try:
        detect_layout({name: torch.empty(0) for name in names})
    except ValueError:
        return False
    return True


def load_local_hf(filename: str, map_location=None) -> dict:
    """Read a ViTPose ``save_pretrained`` folder (a flat state dict whose
    ``_metadata`` carries its ``config.json`` to the load hook) or a
    ViTPose ``.safetensors`` file; any other path as mmengine would.

    Raises:
        FileNotFoundError: If nothing is at ``filename``.
        ValueError: A folder whose ``config.json`` our ViTPose cannot
            represent (:func:`.hf_folder.check_hf_config`). Whether it
            describes the model it is loaded into is checked by the load
            hook (:func:`.hf_folder.check_config_fits`).
    """
    path = os.path.expanduser(filename)
    if is_vitpose_folder(path):
        state, config = read_hf_folder(path)
        state = OrderedDict(state)
        state._metadata = OrderedDict({
            '': {
                METADATA_KEY: (config, os.path.join(path, 'config.json'))
            }
        })
        return state
    if is_vitpose_safetensors(path):
        from safetensors.torch import load_file
        return load_file(path, device=str(map_location or 'cpu'))
    return load_from_local(filename, map_location)


def register_loader() -> None:
    """Register :func:`load_local_hf` with mmengine. Idempotent."""
    if LOCAL_HF_PATTERN not in CheckpointLoader._schemes:
        CheckpointLoader.register_scheme(LOCAL_HF_PATTERN, load_local_hf)
