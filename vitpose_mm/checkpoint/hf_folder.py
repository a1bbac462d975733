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

Where the pose config's model is known (``init_model``, the inferencer,
``load_from``, a backbone's ``init_cfg``, ``convert_checkpoint --config``),
:func:`check_config_fits` also compares ``config.json`` with it field by
field where both speak: a folder whose ``config.json`` honestly says 6
heads or ``hidden_act='relu'`` loads into a 12-head GELU model with
weights of the same shapes and a wrong result (heatmaps off by up to
1.09), so any difference is refused, naming the field and both values.
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


#: The key of the ``_metadata`` entry that carries a folder's config.json
#: from :func:`.mmengine_loader.load_local_hf` to the load hook.
METADATA_KEY = 'vitpose_mm_hf_config'


def _pair(value) -> Tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)  # type: ignore[return-value]
    return (int(value), int(value))


def _activation(backbone) -> Optional[str]:
    """transformers' ``hidden_act`` name of the backbone's FFN activation."""
    from torch import nn
    act = getattr(getattr(backbone.blocks[0], 'mlp', None), 'act', None)
    if isinstance(act, nn.GELU):
        return 'gelu' if act.approximate == 'none' else 'gelu_pytorch_tanh'
    return None if act is None else type(act).__name__


def _is_vitpose_backbone(module) -> bool:
    """A ViTPose backbone, known by the attributes :func:`model_fields`
    reads (this package does not import the models)."""
    return all(hasattr(module, name) for name in
               ('depth', 'embed_dim', 'num_heads', 'mlp_ratio', 'img_size',
                'patch_embed', 'blocks'))


def model_fields(model) -> Dict[str, Tuple[str, Any]]:
    """What a pose model (or a bare ViTPose backbone) says about the fields
    of a ``VitPoseConfig``: ``{hf field: (our name, value)}``.

    Backbone fields come from the backbone's attributes; ``num_labels``,
    ``use_simple_decoder`` and ``scale_factor`` from a one-head model's
    head and neck (a model with per-dataset heads gives none of them).
    """
    backbone = model if _is_vitpose_backbone(model) else getattr(
        model, 'backbone', None)
    if not _is_vitpose_backbone(backbone):
        return {}
    qkv = getattr(backbone.blocks[0].attn, 'qkv', None)
    fields = dict(
        num_hidden_layers=('depth', backbone.depth),
        hidden_size=('embed_dim', backbone.embed_dim),
        num_attention_heads=('num_heads', backbone.num_heads),
        mlp_ratio=('mlp_ratio', float(backbone.mlp_ratio)),
        image_size=('img_size', tuple(backbone.img_size)),
        patch_size=('patch_size',
                    tuple(backbone.patch_embed.proj.kernel_size)),
        num_experts=('num_expert', int(getattr(backbone, 'num_expert', 1))),
    )
    act = _activation(backbone)
    if act is not None:
        fields['hidden_act'] = ('activation', act)
    if qkv is not None:
        fields['qkv_bias'] = ('qkv_bias', qkv.bias is not None)
    if fields['num_experts'][1] > 1:
        fields['part_features'] = ('part_features', backbone.part_features)
    head = getattr(model, 'head', None)
    if head is not None and hasattr(head, 'out_channels'):
        from torch import nn
        simple = isinstance(getattr(head, 'deconv_layers', None),
                            nn.Identity)
        fields['num_labels'] = ('keypoints', int(head.out_channels))
        fields['use_simple_decoder'] = (
            'decoder', 'simple' if simple else 'classic')
        neck = getattr(model, 'neck', None)
        if simple and hasattr(neck, 'scale_factor'):
            fields['scale_factor'] = ('neck.scale_factor',
                                      float(neck.scale_factor))
    return fields


def config_fields(config: Dict[str, Any]) -> Dict[str, Any]:
    """The fields of a ``config.json`` that :func:`model_fields` speaks
    of, normalised the same way; a field absent from the file is left
    out (nothing is assumed)."""
    bb = backbone_config(config)
    out: Dict[str, Any] = {}
    for key in ('num_hidden_layers', 'hidden_size', 'num_attention_heads',
                'num_experts', 'part_features'):
        if bb.get(key) is not None:
            out[key] = int(bb[key])
    if bb.get('mlp_ratio') is not None:
        out['mlp_ratio'] = float(bb['mlp_ratio'])
    for key in ('image_size', 'patch_size'):
        if bb.get(key) is not None:
            out[key] = _pair(bb[key])
    if bb.get('hidden_act') is not None:
        out['hidden_act'] = str(bb['hidden_act'])
    if bb.get('qkv_bias') is not None:
        out['qkv_bias'] = bool(bb['qkv_bias'])
    if 'backbone_config' in config:  # a VitPoseConfig: the head's fields
        if config.get('num_labels') is not None:
            out['num_labels'] = int(config['num_labels'])
        elif isinstance(config.get('id2label'), dict):
            out['num_labels'] = len(config['id2label'])
        if config.get('use_simple_decoder') is not None:
            out['use_simple_decoder'] = ('simple'
                                         if config['use_simple_decoder']
                                         else 'classic')
        if config.get('scale_factor') is not None:
            out['scale_factor'] = float(config['scale_factor'])
    return out


def check_config_fits(config: Dict[str, Any], model,
                      source: str = 'config.json') -> None:
    """Refuse a ``config.json`` that disagrees with the model it is
    loaded into (module docstring).

    Args:
        config (dict): The folder's ``config.json``.
        model (nn.Module): The pose model (or bare ViTPose backbone) of the
            pose config; only attributes are read (``meta`` device is fine).
        source (str): Named in the message.

    Raises:
        ValueError: One line: ``<source>: <field>=<value> but the pose
            config's model has <our name>=<value>``, for the first field
            (in :func:`model_fields` order) that differs.
    """
    theirs = config_fields(config)
    for field, (name, ours) in model_fields(model).items():
        if field not in theirs:
            continue
        value = theirs[field]
        same = (abs(value - ours) < 1e-9 if isinstance(ours, float)
                else value == ours)
        if not same:
            raise ValueError(
                f'{source}: {field}={value!r} but the pose config\'s model '
                f'has {name}={ours!r}; the folder is another model than '
                'the config describes')


def check_folder_fits(path: str, model) -> None:
    """:func:`check_config_fits` for ``path`` when it is a
    ``save_pretrained`` folder (its ``config.json``); nothing otherwise.

    Raises:
        ValueError: As :func:`check_config_fits`.
    """
    if is_hf_folder(str(path)):
        check_config_fits(read_hf_config(str(path)), model,
                          source=os.path.join(str(path), 'config.json'))


def read_hf_config(folder: str) -> Dict[str, Any]:
    """``config.json`` of a ``save_pretrained`` folder, as a dict.

    Raises:
        FileNotFoundError: No ``config.json``.
        ValueError: Not valid JSON.
    """
    path = os.path.join(folder, 'config.json')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{folder} is not a save_pretrained folder: '
                                'no config.json')
    try:
        with open(path) as f:
            return json.load(f)
    except ValueError as err:
        raise ValueError(f'{path} is not valid JSON: {err}') from None


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
    config = read_hf_config(folder)
    check_hf_config(config, source=path)
    state = _read_weights(folder)
    check_num_experts(config, state, source=path)
    return state, config
