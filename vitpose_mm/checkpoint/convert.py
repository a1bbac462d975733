"""Layout detection, conversion through our layout, and the fit check.

Every conversion goes through our layout (``vitpose_mm``): source ->
ours -> target. Our keys are those of a ``TopdownPoseEstimator`` with a
:class:`~vitpose_mm.models.backbones.ViTPoseBackbone` and mmpose's
``HeatmapHead`` (``backbone.*``, ``head.*``; the simple decoder's
``FeatureMapProcessor`` neck has no weights). The per-layout key tables and
special cases are in ``original.py``, ``mmpose_mmpretrain.py``, ``hf.py``
and ``mae.py``.

Detection (first rule that holds):

==============  ===========================================================
layout          rule
==============  ===========================================================
``hf``          a ``backbone.embeddings.*`` or ``backbone.encoder.layer.*``
``mmpose``      a ``backbone.layers.*`` or ``backbone.patch_embed.
                projection.*``
``original``    ``backbone.blocks.*`` and ``keypoint_head.*``,
                ``associate_keypoint_heads.*`` or ``backbone.cls_token``
``vitpose_mm``  ``backbone.blocks.*`` (an original backbone-only file has
                the same keys and converts the same)
``mae``         bare ``blocks.*`` (MAE / timm, or our bare backbone)
==============  ===========================================================

``mae`` is read only; the others are also written.

ViTPose+ (MoE backbone, per-dataset heads; splitting, merging and expert
init are in :mod:`.moe`):

- The experts (``backbone.blocks.{i}.mlp.experts.{e}.*``) have the same
  names in our, the original and the transformers layout
  (``VitPoseBackboneMoeMLP``), and are read and written in all three.
  mmpretrain's ViT has no MoE FFN: writing ``'mmpose'`` refuses experts
  (split per dataset first). transformers builds a dense MLP for
  ``num_experts=1``: writing ``'hf'`` refuses a one-expert model (split
  it).
- The per-dataset heads (``heads.<dataset>.*``) exist in our and the
  original layout only (``keypoint_head`` + ``associate_keypoint_heads.N``,
  in dataset order, see :mod:`.original`). transformers and mmpose 1.x hold
  one head: writing ``'hf'`` takes ``dataset=`` and keeps that dataset's
  head as ``head`` with all the experts (transformers then needs the same
  ``dataset_index`` at run time), or refuses. Reading ``'hf'`` gives that
  one ``head``.
- A ViTPose+ backbone without heads writes to ``'hf'`` as the
  ``backbone.*`` keys of ``VitPoseForPoseEstimation`` (strip ``backbone.``
  for transformers' ``VitPoseBackbone``).
"""
from typing import Callable, Dict, Mapping, Optional, Sequence

import torch
from torch import nn

from . import hf, mae, mmpose_mmpretrain, moe, original
from .table import StateDict

OURS = 'vitpose_mm'

_LAYOUTS = {m.NAME: m for m in (hf, mmpose_mmpretrain, original, mae)}
#: Readable layouts in detection order.
LAYOUTS = ('hf', 'mmpose', 'original', OURS, 'mae')
#: Layouts :func:`convert_state_dict` can write.
TARGETS = (OURS, 'original', 'mmpose', 'hf')


def _is_ours(state: StateDict) -> bool:
    return any(k.startswith('backbone.blocks.') for k in state)


_DETECTORS: Dict[str, Callable[[StateDict], bool]] = {
    'hf': hf.matches,
    'mmpose': mmpose_mmpretrain.matches,
    'original': original.matches,
    OURS: _is_ours,
    'mae': mae.matches,
}


def _check_state(state: Mapping) -> None:
    if not isinstance(state, Mapping):
        raise TypeError(f'Expected a state dict (a mapping of str to '
                        f'Tensor), got {type(state).__name__}')
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'State dict entry {key!r} is a '
                             f'{type(value).__name__}, not a Tensor')


def detect_layout(state: StateDict) -> str:
    """Name the layout of a state dict (see the module docstring).

    Returns:
        str: One of ``'hf'``, ``'mmpose'``, ``'original'``,
        ``'vitpose_mm'``, ``'mae'``.

    Raises:
        ValueError: If no rule holds, listing a few of the keys.
    """
    _check_state(state)
    for name in LAYOUTS:
        if _DETECTORS[name](state):
            return name
    raise ValueError(
        'Unknown checkpoint layout (not ViTPose in the vitpose_mm, '
        'original, mmpose, hf or mae layout); first keys: '
        f'{list(state)[:5]}')


def _check_moe_target(ours: StateDict, to: str) -> None:
    """Refuse MoE weights that the target layout cannot hold."""
    config = moe.expert_config(ours)
    if config is None:
        return
    if to == 'mmpose':
        raise ValueError(
            f'mmpretrain\'s ViT has no MoE FFN, but this ViTPose+ model has '
            f'{config["num_expert"]} experts; split it per dataset first '
            '(python -m vitpose_mm.tools.moe_checkpoint split)')
    if to == 'hf' and config['num_expert'] == 1:
        raise ValueError(
            'transformers builds a dense MLP for num_experts=1, but this '
            'ViTPose+ model has one expert; fold it into fc2 with '
            'moe_checkpoint split --dataset 0')


def convert_state_dict(
        state: StateDict,
        to: str = OURS,
        src: Optional[str] = None,
        head_names: Optional[Sequence[str]] = None,
        dataset: Optional[moe.Dataset] = None) -> StateDict:
    """Convert a ViTPose state dict between layouts.

    A pure function: ``state`` is not modified; tensors are shared with it
    unless a special case (qkv, ``pos_embed``) makes new ones.

    Args:
        state (dict[str, Tensor]): Weights in any readable layout.
        to (str): Target layout: ``'vitpose_mm'`` (ours), ``'original'``,
            ``'mmpose'`` or ``'hf'``.
        src (str, optional): Source layout; detected when None.
        head_names (sequence of str, optional): For a ViTPose+ model with
            per-dataset ``heads.<name>``: its dataset names in order. Read
            from the original layout, ``keypoint_head`` then becomes
            ``heads.<head_names[0]>`` and ``associate_keypoint_heads.N``
            ``heads.<head_names[N + 1]>`` (see :mod:`.original`);
            written to the original layout, ``heads.*`` go in this order
            (else in key order). Also the dataset order for ``dataset``.
            Other layouts have one head and ignore it.
        dataset (str or int, optional): For a ViTPose+ model with
            per-dataset heads: keep only this dataset's head (name or
            expert index), as ``head``, with all the experts
            (:func:`.moe.select_head`); what a one-head layout (``'hf'``)
            needs.

    Returns:
        dict[str, Tensor]: The weights in the ``to`` layout.

    Raises:
        ValueError: On an unknown ``to`` / ``src``, an undetectable layout,
            a key with no counterpart in the target, a model the target
            cannot hold (e.g. a three-deconv head or per-dataset heads
            without ``dataset`` for ``'hf'``, experts for ``'mmpose'``), or
            a ``dataset`` the checkpoint has no head for.
    """
    if to not in TARGETS:
        raise ValueError(f'Unknown target layout {to!r}; choose from '
                         f'{list(TARGETS)}')
    _check_state(state)
    if src is None:
        src = detect_layout(state)
    elif src not in LAYOUTS:
        raise ValueError(f'Unknown source layout {src!r}; choose from '
                         f'{list(LAYOUTS)}')
    if src == OURS:
        ours = dict(state)
    elif src == 'original':
        ours = original.to_ours(state, head_names)
    else:
        ours = _LAYOUTS[src].to_ours(state)
    if dataset is not None:
        ours = moe.select_head(ours, dataset, head_names)
    _check_moe_target(ours, to)
    if to == 'original':
        return original.from_ours(ours, head_names)
    return ours if to == OURS else _LAYOUTS[to].from_ours(ours)


def _shape(t: torch.Tensor) -> tuple:
    return tuple(t.shape)


def _check_moe_fit(own: StateDict, ours: StateDict) -> None:
    """A plain checkpoint for a ViTPose+ model or the reverse: say what to
    run rather than list mismatched fc2 shapes."""
    model_moe, state_moe = moe.expert_config(own), moe.expert_config(ours)
    if state_moe and not model_moe:
        raise ValueError(
            f'The checkpoint is ViTPose+ ({state_moe["num_expert"]} experts) '
            'but the model is a plain ViTPose; split the checkpoint for one '
            'dataset first (python -m vitpose_mm.tools.moe_checkpoint split)')
    if model_moe and not state_moe:
        raise ValueError(
            'The model is ViTPose+ but the checkpoint is a plain ViTPose; '
            'merge plain checkpoints (moe_checkpoint merge) or initialise '
            'the experts from it (moe_checkpoint init-experts)')


def check_fits(model: nn.Module,
               state: StateDict,
               src: Optional[str] = None) -> StateDict:
    """Check that a checkpoint fits a model exactly; return it in our layout.

    ``model`` is a pose estimator with our keys (``backbone.*`` and
    ``head.*``, or ``heads.<dataset>.*`` for ViTPose+, whose dataset order
    is read from the model) or a bare :class:`ViTPoseBackbone`. Only shapes
    are read, so a model built on the ``meta`` device will do.

    Args:
        model (nn.Module): The model the weights are meant for.
        state (dict[str, Tensor]): Weights in any readable layout.
        src (str, optional): Layout of ``state``; detected when None.

    Returns:
        dict[str, Tensor]: ``state`` in our layout (without the
        ``backbone.`` prefix for a bare backbone), ready for
        ``model.load_state_dict(..., strict=True)``.

    Raises:
        ValueError: One line naming the problem: a backbone-only checkpoint
            offered to a pose model, a ViTPose+ checkpoint for a plain
            model or the reverse, a keypoint-count mismatch, the first
            key whose shapes differ (with both shapes), or missing /
            unexpected keys.
    """
    own = model.state_dict()
    ours = convert_state_dict(
        state, src=src, head_names=original.head_names_of(own) or None)
    heads = ('head.', 'heads.')
    bare = not any(k.startswith('backbone.') for k in own)
    prefix = 'backbone.' if bare else ''
    _check_moe_fit({prefix + k: v for k, v in own.items()}, ours)
    if bare:
        ours = {
            k[len('backbone.'):]: v
            for k, v in ours.items() if k.startswith('backbone.')
        }
    elif (any(k.startswith(heads) for k in own)
          and not any(k.startswith(heads) for k in ours)):
        raise ValueError(
            'The checkpoint has no head weights: it is a backbone-only '
            'checkpoint (e.g. MAE pre-training), meant for the backbone\'s '
            "init_cfg=dict(type='Pretrained', checkpoint=...) before "
            'training, not for a whole pose model')
    for key, value in own.items():
        if (key.startswith(heads) and key.endswith('final_layer.weight')
                and key in ours and ours[key].shape[0] != value.shape[0]):
            head = getattr(model, 'head', None)
            if hasattr(head, 'tag_dim'):  # bottom-up AE: K heatmaps + K*L tags
                raise ValueError(
                    f'The checkpoint does not fit the model: {key} is '
                    f'{_shape(ours[key])} in the checkpoint but '
                    f'{_shape(value)} in the model, whose head predicts '
                    f'{head.num_keypoints} keypoints with tag_dim='
                    f'{head.tag_dim}; the checkpoint has another keypoint '
                    'count or tag dimension')
            raise ValueError(
                f'The checkpoint predicts {ours[key].shape[0]} keypoints but '
                f'the model {value.shape[0]} ({key}); it was trained on '
                'another dataset')
    check_same_tensors(own, ours)
    return ours


def check_same_tensors(own: StateDict, state: StateDict) -> None:
    """Check that ``state`` has exactly the tensor names and shapes of a
    model's ``own`` state dict (any model, no layout conversion).

    Raises:
        ValueError: Naming the first key whose shapes differ (with both
            shapes), or the missing / unexpected keys.
    """
    for key, value in own.items():
        if key in state and _shape(state[key]) != _shape(value):
            raise ValueError(
                f'The checkpoint does not fit the model: {key} is '
                f'{_shape(state[key])} in the checkpoint but '
                f'{_shape(value)} in the model')
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError('The checkpoint does not fit the model: '
                         f'{len(missing)} missing keys {missing[:3]}, '
                         f'{len(unexpected)} unexpected keys '
                         f'{unexpected[:3]}')
