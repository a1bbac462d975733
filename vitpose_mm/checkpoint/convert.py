"""Layout detection and conversion through our layout (fitting to a model:
:mod:`.fit`).

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
