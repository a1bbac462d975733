"""The original ViTPose layout (ViTAE-Transformer/ViTPose, mmpose 0.x).

Checkpoints of the original ``TopDown`` / ``TopDownMoE`` detectors. The
backbone keys are ours verbatim; only the head prefix differs.

=====================  ==================================================
ours                   original
=====================  ==================================================
``backbone.<rest>``    ``backbone.<rest>`` (same names; see
                       :mod:`vitpose_mm.models.backbones.vit`)
``head.<rest>``        ``keypoint_head.<rest>``: ConvTranspose
                       ``deconv_layers.{0,3}.weight``, BatchNorm
                       ``deconv_layers.{1,4}.*`` (running stats included),
                       ``final_layer.{weight,bias}``
=====================  ==================================================

Both decoders use these keys: the simple decoder
(``TopdownHeatmapSimpleHead`` with ``num_deconv_layers=0, upsample=4,
final_conv_kernel=3``) has only ``final_layer``, which mmpose 1.x
``HeatmapHead`` also calls ``final_layer``.

Special cases:

- ``backbone.cls_token`` (in ViTPose+ checkpoints, never used by the
  forward) is dropped, as transformers' ``convert_vitpose_to_hf.py`` does.
- **Per-dataset heads (ViTPose+).** ``TopDownMoE`` keeps the first
  dataset's head as ``keypoint_head`` and the others as
  ``associate_keypoint_heads.N``. Our ``ViTPosePlusEstimator`` names them
  ``heads.<dataset name>``. Given ``head_names`` (the model's datasets in
  order), ``keypoint_head`` becomes ``heads.<head_names[0]>`` and
  ``associate_keypoint_heads.N`` becomes ``heads.<head_names[N + 1]>``.
  Without ``head_names`` (a single-head model), ``keypoint_head`` becomes
  ``head`` and the associate heads are dropped with a warning. Writing,
  ``heads.*`` is mapped back in ``head_names`` order if given, else in the
  order the heads appear (which a safetensors file does not keep: it
  sorts its keys).
- **Experts (ViTPose+).** ``backbone.blocks.{i}.mlp.experts.{e}.*`` and
  the shared ``mlp.fc2`` have our names (``ViTMoE``'s ``MoEMlp``); the
  ``backbone.`` row carries them over.
- ``backbone.pos_embed`` keeps its cls row (row 0), which both the original
  and our backbone add to every patch token.
"""
import re
from typing import Optional, Sequence

from mmengine.logging import MMLogger

from .experts import head_names_of
from .table import KeyTable, StateDict, split_keys

NAME = 'original'

TABLE = KeyTable([
    ('backbone.', 'backbone.'),
    ('head.', 'keypoint_head.'),
], NAME)

_ASSOCIATE = re.compile(r'associate_keypoint_heads\.(\d+)\.(.+)\Z')


def matches(state: StateDict) -> bool:
    """An original checkpoint: ``backbone.blocks.*`` with a head prefix or
    a cls token that our layout never has."""
    keys = list(state)
    return (any(k.startswith('backbone.blocks.') for k in keys) and any(
        k.startswith(('keypoint_head.', 'associate_keypoint_heads.'))
        or k == 'backbone.cls_token' for k in keys))


def to_ours(state: StateDict,
            head_names: Optional[Sequence[str]] = None) -> StateDict:
    """Original keys -> ours (pure; tensors are shared, not copied).

    Args:
        state (dict): Original keys.
        head_names (sequence of str, optional): Dataset names of a ViTPose+
            model's ``heads``, in dataset order (see the module docstring).

    Raises:
        ValueError: If the checkpoint has more heads than ``head_names``,
            or a key has no counterpart.
    """
    _, state = split_keys(state, [r'backbone\.cls_token\Z'])
    associate, state = split_keys(state, [_ASSOCIATE.pattern])
    if head_names is None:
        heads = sorted({int(_ASSOCIATE.match(k)[1]) for k in associate})
        if heads:
            MMLogger.get_current_instance().warning(
                f'Dropped the {len(heads)} associate_keypoint_heads of a '
                'ViTPose+ checkpoint; keypoint_head (the first dataset) is '
                'kept as head')
        return TABLE.rename(state, to_ours=True)
    names = list(head_names)
    if not names:
        raise ValueError('head_names is empty; pass None for a single head')
    first, state = split_keys(state, [r'keypoint_head\.'])
    out = TABLE.rename(state, to_ours=True)
    for key, value in first.items():
        out[f'heads.{names[0]}.{key[len("keypoint_head."):]}'] = value
    for key, value in associate.items():
        index, rest = _ASSOCIATE.match(key).groups()
        if int(index) + 1 >= len(names):
            raise ValueError(f'{key}: the checkpoint has more heads than the '
                             f'{len(names)} datasets of the model {names}')
        out[f'heads.{names[int(index) + 1]}.{rest}'] = value
    return out


def from_ours(state: StateDict,
              head_names: Optional[Sequence[str]] = None) -> StateDict:
    """Our keys -> original keys.

    Args:
        state (dict): Our keys.
        head_names (sequence of str, optional): Dataset order of the
            ``heads.*`` of a ViTPose+ model; else the order they appear.

    Raises:
        ValueError: If a head is not in ``head_names``.
    """
    names = head_names_of(state)
    if head_names is not None:
        unknown = [n for n in names if n not in head_names]
        if unknown:
            raise ValueError(f'Heads {unknown} are not in head_names '
                             f'{list(head_names)}')
        names = list(head_names)
    heads, rest = split_keys(state, [r'heads\.'])
    out = TABLE.rename(rest, to_ours=False)
    for key, value in heads.items():
        _, name, tail = key.split('.', 2)
        index = names.index(name)
        prefix = ('keypoint_head'
                  if index == 0 else f'associate_keypoint_heads.{index - 1}')
        out[f'{prefix}.{tail}'] = value
    return out
