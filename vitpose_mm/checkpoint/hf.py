"""The transformers layout (``VitPoseForPoseEstimation``).

Names checked in transformers 5.x ``models/vitpose_backbone/
modeling_vitpose_backbone.py`` and ``models/vitpose/modeling_vitpose.py``.
With ``M = backbone.embeddings.`` and ``E = backbone.encoder.layer.{i}.``:

===================================  ======================================
ours                                 transformers
===================================  ======================================
``backbone.pos_embed``               ``M.position_embeddings``
``backbone.patch_embed.proj.``       ``M.patch_embeddings.projection.``
``backbone.blocks.{i}.norm1.``       ``E.layernorm_before.``
``backbone.blocks.{i}.attn.qkv.``    ``E.attention.attention.{query,key,
                                     value}.``
``backbone.blocks.{i}.attn.proj.``   ``E.attention.output.dense.``
``backbone.blocks.{i}.norm2.``       ``E.layernorm_after.``
``backbone.blocks.{i}.mlp.``         ``E.mlp.`` (``fc1``, ``fc2``;
                                     ViTPose+: shared ``fc2`` and
                                     ``experts.j``)
``backbone.last_norm.``              ``backbone.layernorm.``
``head.deconv_layers.0.``            ``head.deconv1.`` (classic decoder)
``head.deconv_layers.1.``            ``head.batchnorm1.``
``head.deconv_layers.3.``            ``head.deconv2.``
``head.deconv_layers.4.``            ``head.batchnorm2.``
``head.final_layer.``                ``head.conv.`` (both decoders)
===================================  ======================================

Special cases:

- **qkv.** Our fused (3C, C) weight and (3C,) bias are rows q, k, v; they
  split into three (C, C) / (C,) tensors and concatenate back.
- **Position embeddings.** transformers keeps the (1, 1+N, C) table with
  its cls row and adds ``position_embeddings[:, 1:] +
  position_embeddings[:, :1]`` to the patch tokens
  (``VitPoseBackboneEmbeddings``), exactly as we do: no change.
- **Decoders.** ``VitPoseClassicDecoder`` is fixed at two 4x4 stride-2
  deconvolutions to 256 channels (BN + ReLU) and a 1x1 conv;
  ``VitPoseSimpleDecoder`` is ReLU, x4 bilinear and a 3x3 conv. Any other
  head is refused when writing.
- transformers always has the final LayerNorm and no ``ratio`` (patch
  stride = patch size, padding 2): a model without ``last_norm`` is
  refused; ``ratio`` is not visible in a state dict, so use ratio 1.
- Not in the weights: transformers' ``layer_norm_eps`` defaults to 1e-12,
  ViTPose uses 1e-6; set ``VitPoseBackboneConfig(layer_norm_eps=1e-6)``
  for exact parity.
- **ViTPose+.** ``VitPoseBackboneMoeMLP`` has our names: ``fc1``, the
  shared ``fc2`` (C - part_features rows, its channels first) and
  ``experts`` (``VitPoseNaiveMoe``, a ModuleList of part_features-row
  Linears). ``num_experts`` and ``part_features`` of the config are the
  expert count and rows (:func:`.moe.expert_config`); the forward takes
  ``dataset_index``. ``VitPoseForPoseEstimation`` has one head: a model
  with per-dataset heads is written with the head of one dataset
  (``convert_state_dict(..., dataset=...)``), else refused.
- A model without any ``head.*`` (a bare ViTPose / ViTPose+ backbone) is
  written as the ``backbone.*`` keys only.
"""
import re

import torch

from .table import KeyTable, StateDict

NAME = 'hf'
_E = 'backbone.encoder.layer.{i}.'

TABLE = KeyTable([
    ('backbone.pos_embed', 'backbone.embeddings.position_embeddings'),
    ('backbone.patch_embed.proj.',
     'backbone.embeddings.patch_embeddings.projection.'),
    ('backbone.blocks.{i}.norm1.', _E + 'layernorm_before.'),
    ('backbone.blocks.{i}.attn.proj.', _E + 'attention.output.dense.'),
    ('backbone.blocks.{i}.norm2.', _E + 'layernorm_after.'),
    ('backbone.blocks.{i}.mlp.', _E + 'mlp.'),
    ('backbone.last_norm.', 'backbone.layernorm.'),
    ('head.deconv_layers.0.', 'head.deconv1.'),
    ('head.deconv_layers.1.', 'head.batchnorm1.'),
    ('head.deconv_layers.3.', 'head.deconv2.'),
    ('head.deconv_layers.4.', 'head.batchnorm2.'),
    ('head.final_layer.', 'head.conv.'),
], NAME)

_OUR_QKV = re.compile(r'backbone\.blocks\.(\d+)\.attn\.qkv\.(weight|bias)\Z')
_HF_QKV = re.compile(r'backbone\.encoder\.layer\.(\d+)\.attention\.attention'
                     r'\.(query|key|value)\.(weight|bias)\Z')
_PARTS = ('query', 'key', 'value')


def matches(state: StateDict) -> bool:
    """A transformers checkpoint: ``backbone.embeddings.*`` or
    ``backbone.encoder.layer.*`` keys."""
    return any(
        k.startswith(('backbone.embeddings.', 'backbone.encoder.layer.'))
        for k in state)


def to_ours(state: StateDict) -> StateDict:
    """transformers keys -> ours, merging query/key/value into qkv.

    Raises:
        ValueError: If a block lacks one of query/key/value, or a key has
            no counterpart.
    """
    parts, rest = {}, {}
    for key, value in state.items():
        m = _HF_QKV.match(key)
        if m:
            parts.setdefault((int(m[1]), m[3]), {})[m[2]] = value
        else:
            rest[key] = value
    out = TABLE.rename(rest, to_ours=True)
    for (i, kind), qkv in sorted(parts.items()):
        missing = [p for p in _PARTS if p not in qkv]
        if missing:
            raise ValueError(f'Block {i} of the hf checkpoint has no '
                             f'attention {"/".join(missing)} {kind}')
        out[f'backbone.blocks.{i}.attn.qkv.{kind}'] = torch.cat(
            [qkv[p] for p in _PARTS], dim=0)
    return out


def _check_head(state: StateDict) -> None:
    """Refuse a head that neither transformers decoder can hold."""
    if any(k.startswith('heads.') for k in state):
        raise ValueError(
            'transformers VitPose holds one head, but this ViTPose+ model '
            'has per-dataset heads (heads.<dataset>.*); choose one with '
            "convert_state_dict(..., dataset='coco') or write the original "
            'layout')
    if not any(k.startswith('head.') for k in state):
        return  # a bare backbone
    final = state.get('head.final_layer.weight')
    if final is None:
        raise ValueError('The hf layout needs a pose head: '
                         'head.final_layer.weight is missing')
    deconvs = sorted({
        int(k.split('.')[2])
        for k in state if k.startswith('head.deconv_layers.')
    })
    if not deconvs:
        if final.shape[2:] != (3, 3):
            raise ValueError(
                'VitPoseSimpleDecoder needs a 3x3 final conv, but '
                f'head.final_layer.weight is {tuple(final.shape)}')
        return
    if deconvs != [0, 1, 3, 4]:
        raise ValueError('VitPoseClassicDecoder has exactly two deconv '
                         'blocks (head.deconv_layers.0/1/3/4), got '
                         f'indices {deconvs}')
    for i in (0, 3):
        shape = tuple(state[f'head.deconv_layers.{i}.weight'].shape)
        if shape[1:] != (256, 4, 4):
            raise ValueError(
                'VitPoseClassicDecoder needs 4x4 deconvolutions to 256 '
                f'channels, but head.deconv_layers.{i}.weight is {shape}')
    if final.shape[1:] != (256, 1, 1):
        raise ValueError('VitPoseClassicDecoder needs a 1x1 final conv on '
                         '256 channels, but head.final_layer.weight is '
                         f'{tuple(final.shape)}')


def from_ours(state: StateDict) -> StateDict:
    """Our keys -> transformers keys, splitting qkv into query/key/value.

    Raises:
        ValueError: If the model has no ``last_norm``, a head that neither
            transformers decoder can hold (or per-dataset heads), or a qkv
            that is not 3C rows.
    """
    if 'backbone.last_norm.weight' not in state:
        raise ValueError('transformers VitPose always applies a final '
                         'LayerNorm, but backbone.last_norm.weight is '
                         'missing (a last_norm=False model)')
    _check_head(state)
    qkv, rest = {}, {}
    for key, value in state.items():
        m = _OUR_QKV.match(key)
        (qkv if m else rest)[key] = value
    out = TABLE.rename(rest, to_ours=False)
    for key, value in qkv.items():
        i, kind = _OUR_QKV.match(key).groups()
        if value.shape[0] % 3:
            raise ValueError(f'{key} has {value.shape[0]} rows, not 3 * C')
        for part, chunk in zip(_PARTS, value.chunk(3, dim=0)):
            name = f'backbone.encoder.layer.{i}.attention.attention'
            # clone: views would share storage, which safetensors refuses
            out[f'{name}.{part}.{kind}'] = chunk.clone()
    return out
