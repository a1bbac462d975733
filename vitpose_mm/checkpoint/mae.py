"""A bare timm / MAE ViT backbone (no ``backbone.`` prefix); read only.

The MAE pre-training checkpoints the ViTPose paper starts from
(``mae_pretrain_vit_*.pth``, state dict under ``'model'``) use timm's
``VisionTransformer`` names, which are ours without the prefix:

======================================  ===================================
ours                                    MAE / timm
======================================  ===================================
``backbone.pos_embed`` (1, 1+N, C)      ``pos_embed`` (1, 1+14*14, C)
``backbone.patch_embed.proj.``          ``patch_embed.proj.``
``backbone.blocks.{i}.``                ``blocks.{i}.`` (same block names)
``backbone.last_norm.``                 ``last_norm.`` (a bare ViTPose
                                        backbone state dict only)
======================================  ===================================

Dropped, with the reason:

- ``cls_token``: ViTPose has no cls token. Its position row (row 0 of
  ``pos_embed``, all zeros in MAE's sin-cos table) is kept and added to
  every token, as in the original.
- ``norm.*``, MAE's final encoder LayerNorm: the original ViTPose loads
  the MAE file with ``strict=False`` into a model whose final norm is
  called ``last_norm`` (``mmcv_custom/checkpoint.py: load_checkpoint``), so
  ``norm.*`` is ignored there and ``last_norm`` starts from LayerNorm's
  default (weight 1, bias 0). We follow the original.
- ``mask_token``, ``decoder_*`` (MAE decoder), ``fc_norm.*`` and
  ``head.*`` (timm classifier of a fine-tuned checkpoint).

The grid of ``pos_embed`` (14x14 at 224) is resized to the model's grid by
the backbone when it loads the file (``ViTPoseBackbone.fit_pos_embed``),
not here: a state dict does not know the target image size.
"""
from .table import KeyTable, StateDict, split_keys

NAME = 'mae'

TABLE = KeyTable([
    ('backbone.pos_embed', 'pos_embed'),
    ('backbone.patch_embed.proj.', 'patch_embed.proj.'),
    ('backbone.blocks.{i}.', 'blocks.{i}.'),
    ('backbone.last_norm.', 'last_norm.'),
], NAME)

DROPPED = (r'cls_token\Z', r'mask_token\Z', r'decoder_', r'norm\.',
           r'fc_norm\.', r'head\.')


def matches(state: StateDict) -> bool:
    """A bare backbone: ``blocks.N`` keys without a ``backbone.`` prefix."""
    return any(k.startswith('blocks.') for k in state)


def to_ours(state: StateDict) -> StateDict:
    """MAE / bare keys -> ours, with the ``backbone.`` prefix."""
    _, state = split_keys(state, DROPPED)
    return TABLE.rename(state, to_ours=True)


def from_ours(state: StateDict) -> StateDict:
    """Not supported: MAE is a pre-training format we only read.

    Raises:
        ValueError: Always.
    """
    raise ValueError('Writing the mae layout is not supported; it is a '
                     'pre-training format that is only read')
