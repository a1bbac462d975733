"""The mmpose 1.x model-zoo layout (mmpretrain ``VisionTransformer``).

mmpose 1.x ships ViTPose as ``type='mmpretrain.VisionTransformer'`` with
``with_cls_token=False, out_type='featmap', patch_cfg=dict(padding=2)`` and
the stock ``HeatmapHead`` (``configs/body_2d_keypoint/topdown_heatmap/coco/
td-hm_ViTPose-*``). Names checked in mmpretrain 1.2.0
(``models/backbones/vision_transformer.py``, ``models/utils/attention.py``)
and mmcv 2.1.0 (``FFN``, ``PatchEmbed``). With ``L = backbone.layers.{i}.``:

===================================  ======================================
ours                                 mmpose / mmpretrain
===================================  ======================================
``backbone.pos_embed`` (1, 1+N, C)   ``backbone.pos_embed`` (1, N, C)
``backbone.patch_embed.proj.``       ``backbone.patch_embed.projection.``
``backbone.blocks.{i}.norm1.``       ``L.ln1.``
``backbone.blocks.{i}.attn.qkv.``    ``L.attn.qkv.``
``backbone.blocks.{i}.attn.proj.``   ``L.attn.proj.``
``backbone.blocks.{i}.norm2.``       ``L.ln2.``
``backbone.blocks.{i}.mlp.fc1.``     ``L.ffn.layers.0.0.``
``backbone.blocks.{i}.mlp.fc2.``     ``L.ffn.layers.1.``
``backbone.last_norm.``              ``backbone.ln1.`` (``final_norm``)
``head.``                            ``head.`` (the same ``HeatmapHead``)
===================================  ======================================

The fused qkv Linear has the same (3C, C) q/k/v row order in both.

Special cases:

- **Position embedding.** With ``with_cls_token=False`` mmpretrain has no
  cls row: its ``pos_embed`` is (1, N, C), added once to the patch tokens
  (its ``_prepare_pos_embed`` hook drops the cls row of a pre-training
  checkpoint). Ours is (1, 1+N, C) with row 0 added to every token.
  Reading, a zero cls row is prepended (adding 0.0 is exact). Writing, the
  cls row is folded in, ``pos[:, 1:] + pos[:, :1]``, the very sum our
  forward adds, so heatmaps agree bit for bit both ways.
- A checkpoint **with** ``backbone.cls_token`` (``with_cls_token=True``,
  e.g. an mmpretrain MAE pre-training checkpoint) has a (1, 1+N, C)
  ``pos_embed`` whose row 0 belongs to the cls token. The cls token is
  dropped and the rows are kept as they are, so row 0 is added to every
  token: what the original ViTPose does with an MAE checkpoint.
- ``neck.*`` (an MAE pre-training decoder) and ``data_preprocessor.*`` are
  dropped: a ViTPose model has no weights there.
- ``pre_norm``, ``ln2`` of ``out_type='avg_featmap'`` and layer scale
  (``gamma1``/``gamma2``) have no counterpart in ViTPose; such a checkpoint
  is refused with a ValueError naming the key.

mmpretrain is no dependency, so the tests check this layout by round trips
only. Checked once by hand against mmpretrain 1.2.0's ``VisionTransformer``
(as mmpose configures it) + ``HeatmapHead``: tiny random models converted
with ``to='mmpose'`` give our heatmaps to 8.3e-7 (max abs), and the
original fixtures ``vit_classic`` / ``vit_simple`` reproduce their outputs
to 4.2e-7 / 7.4e-6.
"""
import torch

from .table import KeyTable, StateDict, split_keys

NAME = 'mmpose'

TABLE = KeyTable([
    ('backbone.patch_embed.proj.', 'backbone.patch_embed.projection.'),
    ('backbone.blocks.{i}.norm1.', 'backbone.layers.{i}.ln1.'),
    ('backbone.blocks.{i}.attn.qkv.', 'backbone.layers.{i}.attn.qkv.'),
    ('backbone.blocks.{i}.attn.proj.', 'backbone.layers.{i}.attn.proj.'),
    ('backbone.blocks.{i}.norm2.', 'backbone.layers.{i}.ln2.'),
    ('backbone.blocks.{i}.mlp.fc1.', 'backbone.layers.{i}.ffn.layers.0.0.'),
    ('backbone.blocks.{i}.mlp.fc2.', 'backbone.layers.{i}.ffn.layers.1.'),
    ('backbone.last_norm.', 'backbone.ln1.'),
    ('head.', 'head.'),
], NAME)

POS = 'backbone.pos_embed'
CLS = 'backbone.cls_token'
DROPPED = (r'neck\.', r'data_preprocessor\.')


def matches(state: StateDict) -> bool:
    """An mmpretrain ViT: ``backbone.layers.N`` or ``patch_embed.projection``
    keys."""
    return any(
        k.startswith(('backbone.layers.', 'backbone.patch_embed.projection.'))
        for k in state)


def to_ours(state: StateDict) -> StateDict:
    """mmpose keys -> ours (pure; tensors are shared unless changed)."""
    _, state = split_keys(state, DROPPED)
    state = dict(state)
    has_cls = state.pop(CLS, None) is not None
    pos = state.pop(POS, None)
    out = TABLE.rename(state, to_ours=True)
    if pos is not None:
        if pos.dim() != 3 or pos.shape[0] != 1:
            raise ValueError(f'{POS} must be (1, N, C), got '
                             f'{tuple(pos.shape)}')
        if not has_cls:
            pos = torch.cat([pos.new_zeros(1, 1, pos.shape[2]), pos], dim=1)
        out[POS] = pos
    return out


def from_ours(state: StateDict) -> StateDict:
    """Our keys -> mmpose keys, folding the cls row into ``pos_embed``."""
    state = dict(state)
    pos = state.pop(POS, None)
    out = TABLE.rename(state, to_ours=False)
    if pos is not None:
        if pos.dim() != 3 or pos.shape[0] != 1 or pos.shape[1] < 2:
            raise ValueError(f'{POS} must be (1, 1 + N, C), got '
                             f'{tuple(pos.shape)}')
        out[POS] = pos[:, 1:] + pos[:, :1]
    return out
