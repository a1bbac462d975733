"""Fitting a checkpoint to a model: the one entry every load goes through.

:func:`fit_state_dict` takes a state dict in any readable layout and the
model it is meant for (the module, or only its ``state_dict()``: names and
shapes are all it reads) and does, in this order:

1. **convert** to our layout (:func:`.convert.convert_state_dict`; the
   per-dataset head order of a ViTPose+ model is read from the model's
   keys, :func:`.experts.head_names_of`);
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

Fine-tuning (``reinit``, ``keypoint_map``, ``expert_from``): before the
check, the model's tensors that match a ``reinit`` pattern and that the
file lacks or holds with another shape keep the model's own values (its
initialisation); with ``keypoint_map`` the final layer's rows of the
mapped keypoints are the file's, with ``expert_from`` a new ViTPose+
expert starts as a copy of a trained one. What was re-initialised is
returned, each with its reason (:attr:`Fit.reinitialised`).

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
from .experts import head_names_of
from .pos_embed import infer_pos_embed_grid, resize_pos_embed
from .table import StateDict

#: The check rules of :func:`fit_state_dict`.
CHECKS = ('exact', 'groups', 'subset')
#: What fine-tuning to another keypoint set re-initialises by default: the
#: final 1x1 conv of a head (one output row per keypoint), for a plain
#: model (``head.``) and for every ViTPose+ dataset head (``heads.<name>.``).
FINAL_LAYERS = ('head.final_layer.*', 'heads.*.final_layer.*')
#: The option that makes a keypoint-count mismatch a fine-tuning start,
#: named in the refusal (:class:`vitpose_mm.engine.hooks.FineTuneHook`).
FINE_TUNE_HINT = ('to fine-tune on another keypoint set, set fine_tune=dict() '
                  'in the config or pass --fine-tune (docs/finetune.md)')
KeypointMap = Sequence[Tuple[int, int]]
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
        reinitialised (list[tuple[str, str]]): (key, reason) of each tensor
            that keeps the model's own values (``reinit``; module doc).
    """
    state: StateDict
    layout: str
    left_out: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    reinitialised: List[Tuple[str, str]] = field(default_factory=list)

    def reinit_summary(self) -> str:
        """One line: what was re-initialised and why (empty if nothing)."""
        return '; '.join(f'{k} ({why})' for k, why in self.reinitialised)


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


def keypoint_pairs(keypoint_map: KeypointMap,
                   where: str = 'keypoint_map') -> List[Tuple[int, int]]:
    """``keypoint_map`` as a list of (int, int) pairs.

    Raises:
        ValueError: A string, or an entry that is not a pair of ints
            (naming the value).
    """
    if isinstance(keypoint_map, (str, bytes)):
        raise ValueError(f'{where} must be (checkpoint index, model index) '
                         f'pairs, got {keypoint_map!r}')
    for pair in keypoint_map:
        if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                or not all(isinstance(i, int) and not isinstance(i, bool)
                           for i in pair)):
            raise ValueError(f'{where}: {pair!r} is not a (checkpoint index, '
                             'model index) pair of ints')
    return [tuple(pair) for pair in keypoint_map]


def check_keypoint_map(keypoint_map: KeypointMap, num_src: int,
                       num_dst: int, where: str = 'keypoint_map') -> List[
                           Tuple[int, int]]:
    """Validate (checkpoint index, model index) pairs, mmpose's
    ``KeypointConverter`` ``mapping`` style.

    Args:
        keypoint_map: Pairs ``(i, j)``: the model's keypoint ``j`` is the
            checkpoint's keypoint ``i``.
        num_src (int): Keypoints of the checkpoint's head.
        num_dst (int): Keypoints of the model's head.

    Returns:
        list[tuple[int, int]]: The pairs as ints.

    Raises:
        ValueError: A pair that is not two ints, an index out of range
            (naming the pair and the range), or a model keypoint mapped
            twice.
    """
    pairs, seen = [], set()
    for src, dst in keypoint_pairs(keypoint_map, where):
        if not 0 <= src < num_src:
            raise ValueError(
                f'{where}: ({src}, {dst}) names checkpoint keypoint {src}, '
                f'but the checkpoint has {num_src} (0-{num_src - 1})')
        if not 0 <= dst < num_dst:
            raise ValueError(
                f'{where}: ({src}, {dst}) names model keypoint {dst}, but '
                f'the model has {num_dst} (0-{num_dst - 1})')
        if dst in seen:
            raise ValueError(f'{where}: model keypoint {dst} is mapped twice')
        seen.add(dst)
        pairs.append((src, dst))
    return pairs


def _reinit(own: Shapes, ours: StateDict, patterns: Sequence[str],
            keypoint_map: Optional[KeypointMap], expert_from: Optional[int],
            head_note: Optional[str]) -> List[Tuple[str, str]]:
    """Fill ``ours`` in place for fine-tuning (module doc); return the
    (key, reason) of each tensor that keeps the model's values."""
    done = []
    for key, mine in own.items():
        if not may_lack(key, patterns):
            continue
        stored = ours.get(key)
        if stored is not None and _shape(stored) == _shape(mine):
            continue
        if not isinstance(mine, torch.Tensor):
            raise ValueError(f'Re-initialising {key} needs the model\'s '
                             'tensors, not only their shapes')
        expert = moe._EXPERT.match(key)
        if stored is None and expert and expert_from is not None:
            block, _, part = expert.groups()
            source = moe._expert_key(block, expert_from, part)
            if source not in ours:
                raise ValueError(f'expert_from={expert_from}: the checkpoint '
                                 f'has no {source}')
            if _shape(ours[source]) != _shape(mine):
                raise ValueError(
                    f'expert_from={expert_from}: {source} is '
                    f'{_shape(ours[source])} but {key} is {_shape(mine)}')
            ours[key] = ours[source].clone()
            done.append((key, f'new expert, copied from expert '
                         f'{expert_from}'))
            continue
        value = mine.detach().clone()
        why = ('not in the checkpoint' if stored is None else
               f'checkpoint {_shape(stored)} vs model {_shape(mine)}')
        final = key.rsplit('.', 1)[0].endswith('final_layer')
        if keypoint_map is not None and final and stored is not None:
            if head_note:
                raise ValueError(
                    f'keypoint_map cannot map {key}: the head {head_note}, '
                    'not one output row per keypoint')
            if _shape(stored)[1:] != _shape(mine)[1:]:
                raise ValueError(
                    f'{key} is {_shape(stored)} in the checkpoint but '
                    f'{_shape(mine)} in the model: only the keypoint count '
                    '(dimension 0) may differ')
            pairs = check_keypoint_map(keypoint_map, _shape(stored)[0],
                                       _shape(mine)[0])
            for src, dst in pairs:
                value[dst] = stored[src]
            why += (f', rows of {len(pairs)} of {_shape(mine)[0]} keypoints '
                    'from the checkpoint by keypoint_map')
        ours[key] = value
        done.append((key, why))
    return done


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
                    f'dimension; {FINE_TUNE_HINT}')
            raise ValueError(
                f'The checkpoint predicts {_shape(ours[key])[0]} keypoints '
                f'but the model {_shape(value)[0]} ({key}); it was trained '
                f'on another dataset; {FINE_TUNE_HINT}')
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
                   what: str = 'model',
                   reinit: Sequence[str] = (),
                   keypoint_map: Optional[KeypointMap] = None,
                   expert_from: Optional[int] = None) -> Fit:
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
        reinit (sequence of str): fnmatch patterns of the model's tensors
            that keep the model's own values where the file lacks them or
            has another shape (fine-tuning; :data:`FINAL_LAYERS` for a new
            keypoint set). Needs the model's tensors, not shapes.
        keypoint_map (sequence of (int, int), optional): ``(checkpoint
            keypoint, model keypoint)`` pairs whose final-layer rows are
            carried over into a re-initialised final layer (a subset or
            reordering of the checkpoint's keypoints).
        expert_from (int, optional): A ViTPose+ model's expert that the
            file lacks (a new dataset; matched by ``reinit``) starts as a
            copy of this expert of the file.

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
    if keypoint_map is not None and not reinit:
        raise ValueError('keypoint_map needs reinit patterns naming the '
                         'final layer (e.g. FINAL_LAYERS)')
    done = (_reinit(own, ours, reinit, keypoint_map, expert_from, head_note)
            if reinit else [])
    if check == 'exact':
        _check_exact(own, ours, head_note)
        return Fit(ours, layout, reinitialised=done)
    if check == 'groups':
        _check_groups(own, ours, what)
        return Fit(ours, layout, reinitialised=done)
    left_out, ignored = _check_subset(own, ours, may_lack, source, what)
    return Fit({k: v for k, v in ours.items() if k in own}, layout,
               left_out, ignored, done)


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


__all__ = ['CHECKS', 'FINAL_LAYERS', 'FINE_TUNE_HINT', 'Fit',
           'check_fits', 'check_keypoint_map', 'check_same_tensors',
           'keypoint_pairs',
           'fit_state_dict', 'may_lack', 'model_grid',
           'resize_stored_pos_embed', 'summarise_keys']
