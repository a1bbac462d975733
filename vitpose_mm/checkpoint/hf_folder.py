"""transformers ``save_pretrained`` folders of ``VitPoseForPoseEstimation``.

A folder holds ``config.json`` and the weights (``model.safetensors``, a
sharded ``model.safetensors.index.json`` + shards, or ``pytorch_model.bin``).
The weights alone do not say everything about the model: some fields of
``config.json`` (``backbone_config`` in it) change what transformers
computes, and our ViTPose cannot represent every value:

==================  =========================================================
field               what we accept
==================  =========================================================
``out_indices``     the last block only (``[num_hidden_layers]``):
                    transformers' default ``[4]`` feeds the head with block
                    4 of 12, the released ViTPose checkpoints use the last
``layer_norm_eps``  1e-6, the eps of every LayerNorm of ViTPose
                    (transformers' default is 1e-12)
``num_experts``     the expert count of the weights (and, where the model is
                    known, of the config: :func:`check_num_experts`)
==================  =========================================================

A refused field raises ``ValueError`` naming it, its value and what would
work.
"""
import json
import os
from typing import Any, Dict, Optional, Tuple

import torch

from . import moe
from .table import StateDict

#: The LayerNorm eps of ViTPose (original ``vit.py``: ``eps=1e-6``).
VITPOSE_LAYER_NORM_EPS = 1e-6
WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
SHARD_INDEX = 'model.safetensors.index.json'


def is_hf_folder(path: str) -> bool:
    """Whether ``path`` is a folder with a ``config.json``."""
    return os.path.isdir(path) and os.path.isfile(
        os.path.join(path, 'config.json'))


def backbone_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """The ``backbone_config`` of a ``VitPoseConfig`` dict (or the dict
    itself for a bare ``VitPoseBackboneConfig``)."""
    return dict(config.get('backbone_config') or config)


def check_hf_config(config: Dict[str, Any], source: str = 'config.json'
                    ) -> None:
    """Refuse the fields our ViTPose cannot represent (module docstring).

    Raises:
        ValueError: Naming the field, its value and the accepted one.
    """
    bb = backbone_config(config)
    depth = bb.get('num_hidden_layers')
    out_indices = bb.get('out_indices')
    if out_indices is not None and depth is not None and list(
            out_indices) not in ([depth], [-1]):
        raise ValueError(
            f'{source}: out_indices={list(out_indices)} feeds the head with '
            f'block(s) {list(out_indices)} of {depth}; vitpose_mm\'s ViTPose '
            f'uses the last block only (out_indices=[{depth}])')
    eps = bb.get('layer_norm_eps')
    if eps is not None and abs(float(eps) - VITPOSE_LAYER_NORM_EPS) > 1e-12:
        raise ValueError(
            f'{source}: layer_norm_eps={eps}; vitpose_mm\'s ViTPose uses '
            f'{VITPOSE_LAYER_NORM_EPS} in every LayerNorm (set '
            f'layer_norm_eps={VITPOSE_LAYER_NORM_EPS} in the backbone_config '
            'if the weights were trained with it)')


def check_num_experts(config: Dict[str, Any], state: StateDict,
                      model_experts: Optional[int] = None,
                      source: str = 'config.json') -> None:
    """Check ``num_experts`` of ``config`` against the weights and, if
    given, the model's expert count (1 for a plain ViTPose).

    Raises:
        ValueError: Naming ``num_experts`` and both counts.
    """
    declared = int(backbone_config(config).get('num_experts', 1))
    found = moe.expert_config(state)
    in_weights = found['num_expert'] if found else 1
    if declared != in_weights:
        raise ValueError(
            f'{source}: num_experts={declared} but the weights hold '
            f'{in_weights} expert(s)')
    if model_experts is not None and declared != model_experts:
        raise ValueError(
            f'{source}: num_experts={declared} but the model has '
            f'{model_experts} expert(s)')


def _read_weights(folder: str) -> StateDict:
    from safetensors.torch import load_file
    index = os.path.join(folder, SHARD_INDEX)
    if os.path.isfile(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        state: StateDict = {}
        for shard in shards:
            state.update(load_file(os.path.join(folder, shard), device='cpu'))
        return state
    for name in WEIGHT_FILES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        if name.endswith('.safetensors'):
            return load_file(path, device='cpu')
        return torch.load(path, map_location='cpu', weights_only=True)
    raise FileNotFoundError(
        f'{folder} has a config.json but no weights ({", ".join(WEIGHT_FILES)}'
        f' or {SHARD_INDEX})')


def read_hf_folder(folder: str) -> Tuple[StateDict, Dict[str, Any]]:
    """Read a ``save_pretrained`` folder.

    Returns:
        tuple: (state dict in the transformers layout, ``config.json`` as a
        dict), after :func:`check_hf_config` and the weights' side of
        :func:`check_num_experts`.

    Raises:
        FileNotFoundError: No ``config.json`` or no weights file.
        ValueError: A field our ViTPose cannot represent, or unreadable
            ``config.json``.
    """
    path = os.path.join(folder, 'config.json')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{folder} is not a save_pretrained folder: '
                                'no config.json')
    try:
        with open(path) as f:
            config = json.load(f)
    except ValueError as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from None
    check_hf_config(config, source=path)
    state = _read_weights(folder)
    check_num_experts(config, state, source=path)
    return state, config
