"""Layer-wise learning-rate decay for ViTPose (ViTPose paper, Sec. 4.1).

Blocks near the input learn more slowly than those near the output: with
``L`` backbone blocks and decay ``d``, the parameter named ``name`` trains at

    lr = base_lr * d ** (L + 1 - layer_id(name))

where :func:`get_layer_id` maps the patch embedding and ``pos_embed`` to 0,
block ``i`` to ``i + 1`` and everything after the blocks (``last_norm``,
neck, head) to ``L + 1``, which keeps the base lr. This is the convention of
the original ``LayerDecayOptimizerConstructor``
(ViTAE-Transformer/ViTPose, ``mmcv_custom/layer_decay_optimizer_constructor
.py``): it sets ``num_layers = cfg_num_layers + 2`` and scales by
``d ** (num_layers - layer_id - 1)``, the same exponent ``L + 1 - layer_id``.
With L = 12 and d = 0.75 the patch embedding trains at 0.75 ** 13 ~ 0.024
of the base lr.

Differences from the original (and from mmpose's
``LayerDecayOptimWrapperConstructor``, which keys on ``backbone.layers.N``
and would silently give our ``backbone.blocks.N`` the head's lr):

- ``L`` is counted from ``model.backbone.blocks``; ``num_layers`` in the
  config is only a cross-check and a mismatch is an error.
- The weight-decay exemptions (1-D tensors, biases, position embeddings,
  relative position tables, tokens) are built in, as the ``custom_keys`` of
  the original ViTPose+ configs asked for but the original constructor
  ignored; other ``paramwise_cfg`` keys are rejected.
- One summary line goes to mmengine's logger instead of a print per group.
"""
import re
from typing import Dict, List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

#: Backbone parameters that sit before block 0 (layer id 0). ``cls_token``
#: and ``mask_token`` are listed as in the original; our backbone has none.
_EMBED_NAMES = ('backbone.pos_embed', 'backbone.cls_token',
                'backbone.mask_token')
_BLOCK_RE = re.compile(r'^backbone\.blocks\.(\d+)\.')
#: Leaf names never weight-decayed, whatever their shape: position
#: embeddings (``pos_embed``, ``*_pos_embed``), relative position tables
#: (``relative_position_bias_table``, ``rel_pos_h`` ...) and learned tokens
#: (``cls_token``, knowledge tokens ``*_tokens`` ...).
_NO_DECAY_LEAF_RE = re.compile(
    r'^(.*pos_embed|relative_position.*|rel_pos.*|.*_tokens?)$')


def get_layer_id(name: str, num_layers: int) -> int:
    """Layer id of a pose-estimator parameter, from its name alone.

    Args:
        name (str): Parameter name relative to the pose estimator, e.g.
            ``'backbone.blocks.3.attn.qkv.weight'`` (not DDP's
            ``module.``-prefixed name).
        num_layers (int): Number of backbone blocks ``L``.

    Returns:
        int: 0 for ``backbone.pos_embed`` / ``cls_token`` / ``mask_token``
        and ``backbone.patch_embed.*``; ``i + 1`` for ``backbone.blocks.i.*``
        (MoE experts ``backbone.blocks.i.mlp.experts.k.*`` included);
        ``L + 1`` for everything else (``backbone.last_norm``, neck, head).

    Raises:
        ValueError: If ``name`` is in block ``i >= num_layers``.
    """
    if name in _EMBED_NAMES or name.startswith('backbone.patch_embed.'):
        return 0
    match = _BLOCK_RE.match(name)
    if match is None:
        return num_layers + 1
    index = int(match.group(1))
    if index >= num_layers:
        raise ValueError(f'Parameter {name!r} is in block {index}, but '
                         f'num_layers={num_layers}')
    return index + 1


def get_lr_scale(name: str, num_layers: int, decay_rate: float) -> float:
    """lr multiplier ``decay_rate ** (num_layers + 1 - layer_id)`` of a
    parameter; see :func:`get_layer_id` and the module docstring."""
    return decay_rate**(num_layers + 1 - get_layer_id(name, num_layers))


def is_no_weight_decay(name: str, ndim: int) -> bool:
    """Whether the parameter ``name`` of ``ndim`` dimensions is exempt from
    weight decay: 1-D (biases, norm scales), any ``*.bias``, and the leaf
    names matched by ``_NO_DECAY_LEAF_RE`` (position embeddings, relative
    position tables, learned tokens). The original exempts ``ndim == 1``,
    ``.bias`` and names containing ``pos_embed``."""
    leaf = name.rsplit('.', 1)[-1]
    return (ndim <= 1 or leaf == 'bias'
            or _NO_DECAY_LEAF_RE.match(leaf) is not None)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTPoseLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optim-wrapper constructor with ViTPose's layer-wise lr decay.

    Use from a config (mmpose default scope)::

        optim_wrapper = dict(
            optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.1),
            constructor='ViTPoseLayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75))

    Each trainable parameter goes to the group of its (layer id, decay
    or not) pair, with ``lr = base_lr * get_lr_scale(...)`` and
    ``weight_decay`` either the optimizer's or 0 (see
    :func:`is_no_weight_decay`). Groups also carry ``lr_scale`` and
    ``layer_id``. Parameters with ``requires_grad=False`` (e.g. from
    ``frozen_stages``) get no group.

    Args:
        optim_wrapper_cfg (dict): The optim wrapper config, with
            ``optimizer`` (its ``lr`` is the head's lr).
        paramwise_cfg (dict): ``layer_decay_rate`` (float in (0, 1],
            required) and ``num_layers`` (int, optional: checked against the
            number of ``model.backbone.blocks``).

    Raises:
        ValueError: On a missing ``optimizer.lr``, a missing or
            out-of-range ``layer_decay_rate``, an unknown ``paramwise_cfg``
            key, a model without ``backbone.blocks``, or ``num_layers`` that
            differs from the model's block count.
    """

    _KEYS = ('layer_decay_rate', 'num_layers')

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        cfg = self.paramwise_cfg
        unknown = sorted(set(cfg) - set(self._KEYS))
        if unknown:
            raise ValueError(
                f'{type(self).__name__} got unknown paramwise_cfg keys '
                f'{unknown}; it accepts {list(self._KEYS)} (the no-decay '
                'rules for biases, norms and pos_embed are built in)')
        if self.base_lr is None:
            raise ValueError(f'{type(self).__name__} needs optimizer.lr, '
                             f'got optimizer={self.optimizer_cfg}')
        rate = cfg.get('layer_decay_rate')
        if (not isinstance(rate, (int, float)) or isinstance(rate, bool)
                or not 0 < rate <= 1):
            raise ValueError('paramwise_cfg.layer_decay_rate must be in '
                             f'(0, 1], got {rate!r}')
        num_layers = cfg.get('num_layers')
        if num_layers is not None and (not isinstance(num_layers, int)
                                       or num_layers < 1):
            raise ValueError('paramwise_cfg.num_layers must be a positive '
                             f'int, got {num_layers!r}')
        self.layer_decay_rate = float(rate)

    def _count_blocks(self, model: nn.Module) -> int:
        """Number of ``model.backbone.blocks``, checked against the config's
        ``num_layers``."""
        blocks = getattr(getattr(model, 'backbone', None), 'blocks', None)
        if not isinstance(blocks, (nn.ModuleList, nn.Sequential)):
            raise ValueError(
                f'{type(self).__name__} needs a model with backbone.blocks '
                f'(a ViTPose backbone); {type(model).__name__} has none')
        num_layers = len(blocks)
        expected = self.paramwise_cfg.get('num_layers')
        if expected is not None and expected != num_layers:
            raise ValueError(
                f'paramwise_cfg.num_layers={expected} but the model has '
                f'{num_layers} backbone.blocks')
        return num_layers

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   is_dcn_module=None) -> None:
        """Append one param group per (layer id, decay) pair to ``params``.

        Called by the parent's ``__call__`` on the (DDP-unwrapped) pose
        estimator; ``prefix`` and ``is_dcn_module`` are unused.
        """
        num_layers = self._count_blocks(module)
        groups: Dict[Tuple[int, bool], dict] = {}
        num_frozen = 0
        for name, param in module.named_parameters():
            if not param.requires_grad:
                num_frozen += 1
                continue
            layer_id = get_layer_id(name, num_layers)
            no_decay = is_no_weight_decay(name, param.ndim)
            group = groups.get((layer_id, no_decay))
            if group is None:
                scale = get_lr_scale(name, num_layers, self.layer_decay_rate)
                group = dict(
                    params=[],
                    lr=self.base_lr * scale,
                    lr_scale=scale,
                    layer_id=layer_id)
                if no_decay:
                    group['weight_decay'] = 0.
                elif self.base_wd is not None:
                    group['weight_decay'] = self.base_wd
                groups[(layer_id, no_decay)] = group
            group['params'].append(param)
        if not groups:
            raise ValueError(f'{type(module).__name__} has no trainable '
                             'parameters')
        ordered = [groups[key] for key in sorted(groups)]
        params.extend(ordered)
        num_params = sum(len(g['params']) for g in ordered)
        num_no_decay = sum(len(groups[k]['params']) for k in groups if k[1])
        print_log(
            f'Layer-wise lr decay {self.layer_decay_rate} over {num_layers} '
            f'blocks: {len(ordered)} param groups, lr scale '
            f'{ordered[0]["lr_scale"]:.4g} (layer {ordered[0]["layer_id"]})'
            f' to {ordered[-1]["lr_scale"]:.4g} (layer '
            f'{ordered[-1]["layer_id"]}); {num_params} tensors '
            f'({num_no_decay} without weight decay), {num_frozen} frozen '
            'left out',
            logger='current')
