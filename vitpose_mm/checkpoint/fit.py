"""Fitting a checkpoint to a model: the one entry every load goes through.

:func:`fit_state_dict` takes a state dict in any readable layout and the
model it is meant for (the module, or only its ``state_dict()``: names and
shapes are all it reads) and does, in this order:

1. **convert** to our layout (:func:`.convert.convert_state_dict`; the
   per-dataset head order of a ViTPose+ model is read from the model's
   keys, :func:`.original.head_names_of`);
2. **select** the tensors under ``prefix`` (a backbone's ``init_cfg`` takes
   ``backbone.*`` of a whole pose model; a bare MAE file is taken whole);
3. **resize** ``pos_embed`` of another token grid to the model's
   (:mod:`.pos_embed`: a 256x192 checkpoint fine-tuned at 384x288, MAE's
   14x14 grid for ViTPose's 16x12);
4. **check** the result, with one of three rules (``check``):

   ``'exact'``   every tensor of the model present with its shape, nothing
                 left over (a pose model from a pose checkpoint); the
                 messages say what the checkpoint is when it is not that (a
                 backbone-only file, ViTPose+ for a plain model or the
                 reverse, another keypoint count).
   ``'groups'``  the shapes of the tensors both have, and none missing of a
                 top-level group (``backbone``, ``head`` ...) the file has
                 (a distiller holding a teacher, a knowledge-token learner).
   ``'subset'``  the shapes of the tensors both have; tensors of the model
                 the file lacks only where ``may_lack`` allows (fnmatch
                 patterns); the file's extra tensors ignored and reported
                 (a pretrained backbone: MAE's decoder, ViTPose's
                 ``last_norm``).

This module is a pure state-dict library: it never imports
``vitpose_mm.models`` (the models import it; a test imports it with
``vitpose_mm.models`` blocked). Its callers: the backbone's ``init_cfg``
(:meth:`~vitpose_mm.models.ViTPoseBackbone.load_pretrained`), the pose
models' load pre-hook (:mod:`vitpose_mm.models.load_hook`, so mmpose's
``init_model``, ``MMPoseInferencer``, the Runner's ``load_from`` /
``resume``), our APIs and tools, the distiller's teacher and the converter
CLI. Pattern: timm's ``checkpoint_filter_fn`` beside each model.
"""
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from . import moe
from .convert import OURS, convert_state_dict, detect_layout
from .original import head_names_of
from .pos_embed import infer_pos_embed_grid, resize_pos_embed
from .table import StateDict

#: The check rules of :func:`fit_state_dict`.
CHECKS = ('exact', 'groups', 'subset')
_HEADS = ('head.', 'heads.')

Shapes = Mapping[str, Union[torch.Tensor, torch.Size, Tuple[int, ...]]]


@dataclass
class Fit:
    """What :func:`fit_state_dict` returns.

    Attributes:
        state (dict[str, Tensor]): The weights in our layout, with the
            model's key names, ready for ``load_state_dict`` (strict for
            ``'exact'``; ``strict=False`` for ``'subset'``, whose
            ``left_out`` tensors stay as they are).
        layout (str): The layout the weights came in.
        left_out (list[str]): Tensors of the model not in ``state``
            (allowed by ``may_lack``).
        ignored (list[str]): Tensors of the file the model has no use for
            (``'subset'`` only).
    """
    state: StateDict
    layout: str
    left_out: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)


def _shape(t) -> tuple:
    return tuple(t.shape) if hasattr(t, 'shape') else tuple(t)


def _group(key: str) -> str:
    return key.split('.', 1)[0]


def may_lack(key: str, patterns: Sequence[str]) -> bool:
    """Whether ``key`` matches one of the fnmatch ``patterns``."""
    return any(fnmatchcase(key, p) for p in patterns)


def summarise_keys(keys: Sequence[str], limit: int = 8) -> str:
    """``keys`` grouped by block for a message, e.g.
    ``'blocks.6-11.* (72 tensors, e.g. blocks.6.attn.qkv.weight)'``."""
    import re
    blocks: Dict[int, List[str]] = {}
    others = []
    for key in keys:
        match = re.match(r'blocks\.(\d+)\.', key)
        if match:
            blocks.setdefault(int(match.group(1)), []).append(key)
        else:
            others.append(key)
    parts = []
    if blocks:
        ids = sorted(blocks)
        if len(ids) == 1:
            span = str(ids[0])
        elif ids == list(range(ids[0], ids[-1] + 1)):
            span = f'{ids[0]}-{ids[-1]}'
        else:
            span = ','.join(map(str, ids))
        parts.append(f'blocks.{span}.* ({sum(map(len, blocks.values()))} '
                     f'tensors, e.g. {blocks[ids[0]][0]})')
    parts += others[:limit]
    if len(others) > limit:
        parts.append(f'... {len(others) - limit} more')
    return ', '.join(parts)


def model_grid(model: nn.Module) -> Optional[Tuple[int, int]]:
    """The (Hp, Wp) patch grid of a pose model's or a bare backbone's
    ``patch_embed`` (None when it has none)."""
    backbone = getattr(model, 'backbone', model)
    embed = getattr(backbone, 'patch_embed', None)
    grid = getattr(embed, 'patch_shape', None)
    return None if grid is None else tuple(grid)


def resize_stored_pos_embed(state: StateDict, own: Shapes, key: str,
                            grid: Optional[Sequence[int]],
                            src_grid: Optional[Sequence[int]] = None
                            ) -> None:
    """Resize ``state[key]`` (1, 1 + N, C) in place to the (1, 1 + Hp*Wp,
    C) of ``own[key]`` when only the token count differs.

    Args:
        grid: The model's (Hp, Wp); None takes a square grid of the
            model's token count.
        src_grid: The file's (H, W); None infers it
            (:func:`.pos_embed.infer_pos_embed_grid`).

    Raises:
        ValueError: A grid that cannot be inferred.
    """
    stored, mine = state.get(key), own.get(key)
    if stored is None or mine is None:
        return
    have, want = _shape(stored), _shape(mine)
    if have == want or len(have) != 3 or have[2] != want[2]:
        return
    if grid is None:
        side = int(round((want[1] - 1)**0.5))
        if side * side != want[1] - 1:
            raise ValueError(
                f'{key} is {have} in the checkpoint but {want} in the model, '
                'whose token grid is not known here: pass the model (not '
                'its keys) or its (Hp, Wp) grid')
        grid = (side, side)
    if src_grid is None:
        src_grid = infer_pos_embed_grid(have[1] - 1, tuple(grid))
    state[key] = resize_pos_embed(stored, tuple(src_grid), tuple(grid))


def _check_moe_fit(own: Shapes, ours: StateDict) -> None:
    """A plain checkpoint for a ViTPose+ model or the reverse: say what to
    run rather than list mismatched fc2 shapes."""
    model_moe = moe.expert_config(own)
    state_moe = moe.expert_config(ours)
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


def check_same_tensors(own: Shapes, state: StateDict) -> None:
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


def _check_exact(own: Shapes, ours: StateDict,
                 head_note: Optional[str]) -> None:
    if (any(k.startswith(_HEADS) for k in own)
            and not any(k.startswith(_HEADS) for k in ours)):
        raise ValueError(
            'The checkpoint has no head weights: it is a backbone-only '
            'checkpoint (e.g. MAE pre-training), meant for the backbone\'s '
            "init_cfg=dict(type='Pretrained', checkpoint=...) before "
            'training, not for a whole pose model')
    for key, value in own.items():
        if (key.startswith(_HEADS) and key.endswith('final_layer.weight')
                and key in ours
                and _shape(ours[key])[0] != _shape(value)[0]):
            if head_note:
                raise ValueError(
                    f'The checkpoint does not fit the model: {key} is '
                    f'{_shape(ours[key])} in the checkpoint but '
                    f'{_shape(value)} in the model, whose head {head_note}; '
                    'the checkpoint has another keypoint count or tag '
                    'dimension')
            raise ValueError(
                f'The checkpoint predicts {_shape(ours[key])[0]} keypoints '
                f'but the model {_shape(value)[0]} ({key}); it was trained '
                'on another dataset')
    check_same_tensors(own, ours)


def _check_groups(own: Shapes, ours: StateDict, what: str) -> None:
    for key, value in ours.items():
        if key in own and _shape(own[key]) != _shape(value):
            raise ValueError(
                f'does not fit {what}: {key} is {_shape(value)} in the checkpoint '
                f'but {_shape(own[key])} in the model')
    groups = {_group(k) for k in ours}
    missing = [k for k in own if _group(k) in groups and k not in ours]
    if missing:
        raise ValueError(f'does not fit {what}: {len(missing)} missing keys '
                         f'{missing[:3]}')


def _check_subset(own: Shapes, ours: StateDict, patterns: Sequence[str],
                  source: str, what: str) -> Tuple[List[str], List[str]]:
    bad = [f'{k}: checkpoint {_shape(v)} vs model {_shape(own[k])}'
           for k, v in ours.items()
           if k in own and _shape(own[k]) != _shape(v)]
    if bad:
        raise ValueError(f'Checkpoint {source} does not fit this {what}:\n  '
                         + '\n  '.join(bad[:10]))
    if not set(ours) & set(own):
        raise ValueError(f'Checkpoint {source} has no backbone weights '
                         'for this model')
    missing = [k for k in own if k not in ours]
    lacking = [k for k in missing if not may_lack(k, patterns)]
    if lacking:
        raise ValueError(
            f'Checkpoint {source} lacks {len(lacking)} tensors of this '
            f'{what}, which would stay random: {summarise_keys(lacking)}')
    return missing, sorted(set(ours) - set(own))


def fit_state_dict(model_or_keys: Union[nn.Module, Shapes],
                   state: StateDict,
                   src: Optional[str] = None,
                   *,
                   check: str = 'exact',
                   prefix: Optional[str] = None,
                   may_lack: Sequence[str] = (),
                   grid: Optional[Sequence[int]] = None,
                   pos_embed_grid: Optional[Sequence[int]] = None,
                   head_note: Optional[str] = None,
                   source: str = '',
                   what: str = 'model') -> Fit:
    """Convert, resize and check a checkpoint for a model (module doc).

    Args:
        model_or_keys (nn.Module or dict): The model, or its
            ``state_dict()`` (tensors or shapes: a ``meta`` model will do).
            A bare backbone (no ``backbone.*`` keys) takes the
            ``backbone.*`` tensors of a pose checkpoint.
        state (dict[str, Tensor]): The weights, in any readable layout
            (:data:`.convert.LAYOUTS`). Not modified.
        src (str, optional): Their layout; detected when None.
        check (str): ``'exact'``, ``'groups'`` or ``'subset'`` (module doc).
        prefix (str, optional): Keep only the tensors under this prefix,
            stripped (when the file has any; a bare backbone file is taken
            whole).
        may_lack (sequence of str): fnmatch patterns of the model's tensors
            a ``'subset'`` file may lack.
        grid (tuple, optional): The model's (Hp, Wp) patch grid, for the
            ``pos_embed`` resize; read from a module's ``patch_embed``.
        pos_embed_grid (tuple, optional): The file's (H, W) grid; inferred
            when None.
        head_note (str, optional): What the model's head predicts, for the
            keypoint-count message (e.g. ``'predicts 17 keypoints with
            tag_dim=1'`` for a bottom-up head, whose final layer holds
            heatmaps and tags).
        source (str): The file, for the messages.
        what (str): The model, for the ``'subset'`` messages.

    Returns:
        Fit: The weights in our layout and what was left out or ignored.

    Raises:
        ValueError: One line naming the problem: an unknown layout or
            check, a backbone-only file for a pose model, ViTPose+ for a
            plain model or the reverse, another keypoint count, the first
            tensor whose shapes differ (both shapes), missing tensors (a
            summary) or unexpected ones.
    """
    if check not in CHECKS:
        raise ValueError(f'Unknown check {check!r}; choose from '
                         f'{list(CHECKS)}')
    if isinstance(model_or_keys, nn.Module):
        own = model_or_keys.state_dict()
        grid = grid or model_grid(model_or_keys)
    else:
        own = model_or_keys
    layout = src or detect_layout(state)
    ours = convert_state_dict(state, src=layout,
                              head_names=head_names_of(own) or None)
    bare = not any(k.startswith('backbone.') for k in own)
    if prefix is not None:
        if any(k.startswith(prefix) for k in ours):
            ours = {k[len(prefix):]: v for k, v in ours.items()
                    if k.startswith(prefix)}
    elif bare and check == 'exact':
        _check_moe_fit({'backbone.' + k: v for k, v in own.items()}, ours)
        ours = {k[len('backbone.'):]: v for k, v in ours.items()
                if k.startswith('backbone.')}
    elif check == 'exact':
        _check_moe_fit(own, ours)
    for key in ('pos_embed', 'backbone.pos_embed'):
        resize_stored_pos_embed(ours, own, key, grid, pos_embed_grid)
    if check == 'exact':
        _check_exact(own, ours, head_note)
        return Fit(ours, layout)
    if check == 'groups':
        _check_groups(own, ours, what)
        return Fit(ours, layout)
    left_out, ignored = _check_subset(own, ours, may_lack, source, what)
    return Fit({k: v for k, v in ours.items() if k in own}, layout,
               left_out, ignored)


def check_fits(model: nn.Module,
               state: StateDict,
               src: Optional[str] = None) -> StateDict:
    """Check that a checkpoint fits a model exactly; return it in our layout.

    :func:`fit_state_dict` with ``check='exact'`` (``pos_embed`` of another
    grid resized). ``model`` is a pose estimator with our keys
    (``backbone.*`` and ``head.*``, or ``heads.<dataset>.*`` for ViTPose+)
    or a bare :class:`ViTPoseBackbone`; only shapes are read. A head that
    describes its output (``output_description()``, the bottom-up head:
    heatmaps and tags in one final layer) is named in the message.

    Returns:
        dict[str, Tensor]: ``state`` in our layout (without the
        ``backbone.`` prefix for a bare backbone), ready for
        ``model.load_state_dict(..., strict=True)``.

    Raises:
        ValueError: See :func:`fit_state_dict`.
    """
    describe = getattr(getattr(model, 'head', None), 'output_description',
                       None)
    return fit_state_dict(model, state, src,
                          head_note=describe() if callable(describe) else None
                          ).state


__all__ = ['CHECKS', 'Fit', 'check_fits', 'check_same_tensors',
           'fit_state_dict', 'may_lack', 'model_grid',
           'resize_stored_pos_embed', 'summarise_keys']
