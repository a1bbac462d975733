"""ViTPose+ checkpoints: split per dataset, merge back, experts from a ViT.

A ViTPose+ FFN (:class:`~vitpose_mm.models.layers.MoEMlp`) ends in a shared
``fc2`` (hidden -> C - P rows) and one expert per dataset (hidden -> P
rows, ``P = part_features``); a block outputs ``cat([fc2(h),
experts[d](h)])``, **shared channels first**. For dataset ``d`` that is one
dense Linear whose rows are ``[fc2; experts.d]`` (weight and bias), so a
ViTPose+ model splits exactly into plain ViTPose models, one per dataset,
and merges back.

Every function here is ``state_dict -> state_dict`` in **our layout**
(``backbone.*``, ``heads.<dataset>.*`` of
:class:`~vitpose_mm.models.ViTPosePlusEstimator`, ``head.*`` of a plain
model). Convert other layouts first with
:func:`~vitpose_mm.checkpoint.convert_state_dict` (an original ViTPose+
checkpoint needs ``head_names`` to name its heads); the CLI
``python -m vitpose_mm.tools.moe_checkpoint`` does that for files.

Key routing of :func:`split_experts` for dataset ``d`` named ``n``, first
matching row wins:

=========================================  ===============================
ViTPose+ key                               plain ViTPose key
=========================================  ===============================
``backbone.blocks.{i}.mlp.fc2.{w,b}``      same key, rows
                                           ``[fc2; experts.d]``
``backbone.blocks.{i}.mlp.experts.{e}.*``  dropped (every ``e``)
``heads.<n>.*``                            ``head.*``
``heads.<other>.*``                        dropped
anything else (``backbone.*``, the one     kept
``head.*`` of a transformers ViTPose+)
=========================================  ===============================

Special cases:

- **Dataset order.** Expert ``e`` serves dataset ``e``, whose head is
  ``heads.<name of dataset e>``. Key order does not tell the order
  (safetensors sorts its keys), so it comes from ``names``; without
  ``names`` it is :data:`RELEASED_DATASETS` when the heads are exactly those
  six (or there are no heads and six experts), and unknown otherwise: a
  dataset can then only be picked by index, and only from a checkpoint
  without heads.
- **Differences from the original** ``tools/model_split.py``: it keeps all
  ``mlp.experts.*`` keys and (for COCO) all ``associate_keypoint_heads.*``,
  so its files need ``strict=False``; ours load strictly. It also slices
  the head's ``final_layer`` to the dataset's keypoint count, a no-op
  because every head already has that count. Its fc2 and head tensors
  equal ours (tested on the ``model_split`` fixture).
- **Files of the original tool as merge inputs.** Its plain checkpoints
  still hold the experts of the ViTPose+ model they came from; where every
  fc2 already has all C rows (the width of the block's ``norm2``), those
  experts are strays and :func:`merge_experts` ignores them.
- **Merging independently fine-tuned models.** A ViTPose+ model has one
  backbone, so everything but the last P rows of each fc2 must be one
  tensor. Where the inputs disagree, :func:`merge_experts` takes the shared
  tensors from one input (``shared_from``, the first by default) and warns,
  or raises with ``strict=True``. It does not average: an averaged backbone
  is a model that none of the inputs was evaluated with, while taking one
  input's keeps that dataset's plain model exactly.
- **Experts from a dense checkpoint** (the ViTPose++ initialisation, as
  the original ``mmcv_custom/checkpoint.py`` loads an MAE checkpoint):
  the shared fc2 is the first C - P rows of the dense fc2 and every expert
  its last P rows, so the MoE model equals the dense one for every dataset.
"""
import re
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .experts import (RELEASED_DATASETS, Dataset, fold_expert,
                      resolve_dataset, unfold_expert)
from .experts import head_names_of
from .table import StateDict

_FC2 = re.compile(r'backbone\.blocks\.(\d+)\.mlp\.fc2\.(weight|bias)\Z')
_EXPERT = re.compile(
    r'backbone\.blocks\.(\d+)\.mlp\.experts\.(\d+)\.(weight|bias)\Z')
_PARTS = ('weight', 'bias')


def _expert_key(block: str, expert: int, part: str) -> str:
    return f'backbone.blocks.{block}.mlp.experts.{expert}.{part}'


def expert_config(state: StateDict) -> Optional[Dict[str, int]]:
    """``num_expert`` and ``part_features`` of a ViTPose+ state dict.

    Read from the shapes: the number of ``experts.{e}`` per block and the
    rows of each expert (the config values transformers calls
    ``num_experts`` and ``part_features``).

    Returns:
        dict or None: ``dict(num_expert=E, part_features=P)``, or None for
        a plain (dense) checkpoint.

    Raises:
        ValueError: If blocks disagree (a block without experts, experts
            not numbered 0..E-1, a missing weight or bias, rows or hidden
            widths that differ), naming the block or key.
    """
    blocks: Dict[str, Dict[int, Dict[str, torch.Tensor]]] = {}
    for key, value in state.items():
        m = _EXPERT.match(key)
        if m:
            blocks.setdefault(m[1], {}).setdefault(int(m[2]), {})[m[3]] = value
    if not blocks:
        return None
    fc2 = {m[1] for m in map(_FC2.match, state) if m}
    plain = sorted(int(b) for b in fc2 - set(blocks))
    if plain:
        raise ValueError(f'Blocks {plain} have no experts while blocks '
                         f'{sorted(int(b) for b in blocks)} have')
    first = None  # (block, expert count, key of the first expert weight)
    for block in sorted(blocks, key=int):
        experts = blocks[block]
        if sorted(experts) != list(range(len(experts))):
            raise ValueError(f'Block {block} has experts {sorted(experts)}; '
                             f'expected 0..{len(experts) - 1}')
        if first is None:
            first = (block, len(experts), _expert_key(block, 0, 'weight'))
        elif len(experts) != first[1]:
            raise ValueError(f'Block {block} has {len(experts)} experts but '
                             f'block {first[0]} has {first[1]}')
        shared = state.get(f'backbone.blocks.{block}.mlp.fc2.weight')
        for e, parts in sorted(experts.items()):
            for part in _PARTS:
                if part not in parts:
                    raise ValueError(f'{_expert_key(block, e, part)} is '
                                     'missing')
            key, weight = _expert_key(block, e, 'weight'), parts['weight']
            if shared is not None and weight.shape[1:] != shared.shape[1:]:
                raise ValueError(
                    f'{key} is {tuple(weight.shape)} but the shared '
                    f'backbone.blocks.{block}.mlp.fc2.weight is '
                    f'{tuple(shared.shape)}: their hidden widths differ')
            reference = state[first[2]]
            if weight.shape != reference.shape:
                raise ValueError(
                    f'{key} is {tuple(weight.shape)} but {first[2]} is '
                    f'{tuple(reference.shape)}: all experts need one shape')
    return dict(num_expert=first[1], part_features=state[first[2]].shape[0])


def dataset_order(
        state: StateDict,
        names: Optional[Sequence[str]] = None) -> Optional[List[str]]:
    """Dataset names in expert order (see the module doc).

    Args:
        state (dict[str, Tensor]): Our layout.
        names (sequence of str, optional): The datasets in expert order,
            e.g. ``model.dataset_names``; checked against the checkpoint.

    Returns:
        list[str] or None: The names, or None when they are unknown (no
        ``names``, no heads and not six experts).

    Raises:
        ValueError: If ``names`` repeats a name, has the wrong length for
            the experts, or misses a head of the checkpoint; or if there
            are heads whose order is unknown.
    """
    heads = head_names_of(state)
    config = expert_config(state)
    count = config['num_expert'] if config else len(heads)
    if names is not None:
        names = list(names)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f'names repeats {repeated}: {names}')
        if count and len(names) != count:
            what = 'experts' if config else 'heads'
            raise ValueError(f'names lists {len(names)} datasets {names} but '
                             f'the checkpoint has {count} {what}')
        unknown = [h for h in heads if h not in names]
        if unknown:
            raise ValueError(f'The checkpoint has heads {unknown} that are '
                             f'not in names {names}')
        return names
    if (set(heads) == set(RELEASED_DATASETS)
            or (not heads and count == len(RELEASED_DATASETS))):
        return list(RELEASED_DATASETS)
    if heads:
        raise ValueError(
            f'The expert order of the heads {sorted(heads)} is unknown: pass '
            'the datasets in expert order as names (CLI: --datasets), e.g. '
            "the model's dataset_names")
    return None


def expert_of(state: StateDict,
              dataset: Dataset,
              names: Optional[Sequence[str]] = None
              ) -> Tuple[int, Optional[str]]:
    """``(expert index, name or None)`` of a dataset of a checkpoint, given
    by name or index (:func:`~.experts.resolve_dataset` on the order of
    :func:`dataset_order`).

    Raises:
        ValueError: If the index is out of range, the name is unknown, or a
            name is given where the names are unknown.
    """
    order = dataset_order(state, names)
    config = expert_config(state)
    count = config['num_expert'] if config else len(order or ())
    if order is None and isinstance(dataset, str):
        raise ValueError(
            f'Cannot find dataset {dataset!r} by name: the checkpoint has no '
            f'heads naming its {count} experts; pass names (CLI: '
            '--datasets) or an index')
    index = resolve_dataset(dataset, order, count)
    return index, order[index] if order else None


def select_head(state: StateDict,
                dataset: Dataset,
                names: Optional[Sequence[str]] = None) -> StateDict:
    """Keep one dataset's head as ``head.*``; drop the others.

    The experts are kept: this is the transformers layout's view of a
    ViTPose+ model (one head, MoE backbone, ``dataset_index`` at run time).

    Raises:
        ValueError: If there are no ``heads.*``, or as
            :func:`expert_of`, or the dataset has no head.
    """
    heads = head_names_of(state)
    if not heads:
        raise ValueError('The checkpoint has no per-dataset heads '
                         '(heads.<dataset>.*) to choose from')
    _, name = expert_of(state, dataset, names)
    if name not in heads:
        raise ValueError(f'The checkpoint has no head for dataset {name!r} '
                         f'(heads: {heads})')
    out = {}
    for key, value in state.items():
        if not key.startswith('heads.'):
            out[key] = value
        elif key.split('.', 2)[1] == name:
            out['head.' + key.split('.', 2)[2]] = value
    return out


def split_experts(state: StateDict,
                  dataset: Dataset,
                  names: Optional[Sequence[str]] = None) -> StateDict:
    """A ViTPose+ state dict -> the plain ViTPose one of one dataset.

    Routing in the module doc. New tensors for fc2; the others are shared
    with ``state``.

    Args:
        state (dict[str, Tensor]): ViTPose+ weights in our layout.
        dataset (str or int): Dataset name or expert index.
        names (sequence of str, optional): The datasets in expert order.

    Returns:
        dict[str, Tensor]: Loads strictly into a ``TopdownPoseEstimator``
        with a ``ViTPoseBackbone`` (``head.*`` if the checkpoint has a head
        for the dataset; backbone only if it has no heads).

    Raises:
        ValueError: If ``state`` has no experts, or as
            :func:`select_head` / :func:`expert_of`.
    """
    if expert_config(state) is None:
        raise ValueError('Not a ViTPose+ checkpoint: no backbone.blocks.N.'
                         'mlp.experts.E keys (already a plain ViTPose?)')
    index, _ = expert_of(state, dataset, names)
    if head_names_of(state):
        state = select_head(state, index, names)
    out = {}
    for key, value in state.items():
        if _EXPERT.match(key):
            continue
        m = _FC2.match(key)
        if m:
            value = fold_expert(value, state[_expert_key(m[1], index, m[2])])
        out[key] = value
    return out


def _without_stray_experts(state: StateDict) -> StateDict:
    """Drop the experts of a checkpoint whose every fc2 already has all C
    rows (the original ``tools/model_split.py`` leaves them in)."""
    fc2 = [m for m in map(_FC2.match, state) if m and m[2] == 'weight']
    if not fc2 or not any(_EXPERT.match(k) for k in state):
        return state
    for m in fc2:
        norm = state.get(f'backbone.blocks.{m[1]}.norm2.weight')
        if norm is None or state[m[0]].shape[0] != norm.shape[0]:
            return state
    return {k: v for k, v in state.items() if not _EXPERT.match(k)}


def _shared_region(key: str, value: torch.Tensor,
                   part_features: int) -> torch.Tensor:
    """The rows of a tensor that the datasets share."""
    return unfold_expert(value, part_features)[0] if _FC2.match(key) \
        else value


def merge_experts(states: Sequence[StateDict],
                  names: Sequence[str],
                  part_features: int,
                  shared_from: Dataset = 0,
                  strict: bool = False) -> StateDict:
    """Plain ViTPose state dicts, one per dataset -> one ViTPose+ state dict.

    Expert ``e`` is the last ``part_features`` rows of input ``e``'s fc2;
    input ``e``'s ``head.*`` becomes ``heads.<names[e]>.*``. Everything
    else is shared and taken from ``states[shared_from]`` (see the module
    doc for why not averaged). Stray experts of the original tool's files
    are ignored (module doc). ``merge_experts([split_experts(s, d) for d
    ...], ...)`` gives ``s`` back exactly.

    Args:
        states (sequence of dict): Plain ViTPose weights in our layout, in
            expert order.
        names (sequence of str): Their dataset names (identifiers).
        part_features (int): Rows of each expert (96/192/256/320 for
            ViTPose+-S/B/L/H).
        shared_from (str or int): The input whose shared tensors are kept.
        strict (bool): Raise instead of warning when the inputs' shared
            tensors differ.

    Returns:
        dict[str, Tensor]: For a :class:`ViTPosePlusEstimator` with these
        datasets (or its backbone, if the inputs have no heads).

    Warns:
        UserWarning: If shared tensors differ (``strict=False``), naming how
            many, the largest difference and the input they came from.

    Raises:
        ValueError: On an empty input, names that are not identifiers or
            repeat, an input that is already ViTPose+ or has no fc2, keys,
            shapes or dtypes that differ between inputs (naming the key and
            both inputs), some inputs with a head and others without, a
            ``part_features`` that does not fit, or (``strict``) differing
            shared tensors.
    """
    states = [_without_stray_experts(s) for s in states]
    names = list(names)
    if not states:
        raise ValueError('merge_experts needs at least one state dict')
    if len(names) != len(states):
        raise ValueError(f'{len(states)} state dicts but {len(names)} names '
                         f'{names}')
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f'Dataset name {name!r} is not an identifier '
                             "such as 'coco'")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f'Dataset names repeat {repeated}: {names}')
    if isinstance(part_features, bool) or not isinstance(part_features, int) \
            or part_features < 1:
        raise ValueError(f'part_features must be a positive int, got '
                         f'{part_features!r}')
    for name, state in zip(names, states):
        if expert_config(state) is not None or head_names_of(state):
            raise ValueError(f'Input {name!r} is already a ViTPose+ '
                             'checkpoint (experts or heads.*); merge plain '
                             'ViTPose checkpoints')
    ref_index = resolve_dataset(shared_from, names, what='shared_from')
    ref, ref_name = states[ref_index], names[ref_index]
    shared_keys = [k for k in ref if not k.startswith('head.')]
    fc2_keys = [k for k in shared_keys if _FC2.match(k)]
    if not fc2_keys:
        raise ValueError(f'Input {ref_name!r} has no backbone.blocks.N.mlp.'
                         'fc2 weights: not a ViTPose checkpoint in our layout')
    for key in fc2_keys:
        rows = ref[key].shape[0]
        if part_features > rows:
            raise ValueError(f'part_features={part_features} does not fit '
                             f'{key} with {rows} rows')
    with_head = [bool(any(k.startswith('head.') for k in s)) for s in states]
    if any(with_head) and not all(with_head):
        raise ValueError(
            'Some inputs have a head and others not: with '
            f'{[n for n, h in zip(names, with_head) if h]}, without '
            f'{[n for n, h in zip(names, with_head) if not h]}')

    differ: List[Tuple[float, str, str]] = []
    for name, state in zip(names, states):
        own = [k for k in state if not k.startswith('head.')]
        extra = [k for k in own if k not in ref]
        missing = [k for k in shared_keys if k not in state]
        if extra or missing:
            raise ValueError(
                f'Inputs {ref_name!r} and {name!r} have different backbone '
                f'keys: {missing[:3]} only in {ref_name!r}, {extra[:3]} '
                f'only in {name!r}')
        for key in shared_keys:
            a, b = ref[key], state[key]
            if a.shape != b.shape or a.dtype != b.dtype:
                raise ValueError(
                    f'{key} is {tuple(a.shape)} {a.dtype} in {ref_name!r} '
                    f'but {tuple(b.shape)} {b.dtype} in {name!r}')
            a = _shared_region(key, a, part_features)
            b = _shared_region(key, b, part_features)
            if not torch.equal(a, b):
                diff = (a.double() - b.double()).abs().max().item()
                differ.append((diff, key, name))
    if differ:
        diff, key, name = max(differ)
        message = (
            f'{len({k for _, k, _ in differ})} shared tensors differ between '
            f'the inputs (largest: {key}, max abs diff {diff:.3g} between '
            f'{ref_name!r} and {name!r}); all shared tensors are taken from '
            f'{ref_name!r} (shared_from)')
        if strict:
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=2)

    out = {}
    for key in shared_keys:
        value = ref[key]
        m = _FC2.match(key)
        if not m:
            out[key] = value
            continue
        # clone: slices would share storage, which safetensors refuses
        out[key] = unfold_expert(value, part_features)[0].clone()
        for e, state in enumerate(states):
            out[_expert_key(m[1], e, m[2])] = unfold_expert(
                state[key], part_features)[1].clone()
    for name, state in zip(names, states):
        for key, value in state.items():
            if key.startswith('head.'):
                out[f'heads.{name}.{key[len("head."):]}'] = value
    return out


def init_experts(state: StateDict, num_expert: int,
                 part_features: int) -> StateDict:
    """A dense ViT backbone -> ViTPose+ backbone weights (ViTPose++ init).

    Shared fc2 = the first C - P rows of each dense fc2, every expert = its
    last P rows (module doc), so the result computes the dense model for
    every dataset. Only ``backbone.*`` is kept: a dense model's ``head.*``
    (and anything else) is dropped with a warning, since the per-dataset
    heads start from their own initialisation.

    Args:
        state (dict[str, Tensor]): Dense weights in our layout (convert an
            MAE file first: ``convert_state_dict(state)``).
        num_expert (int): Experts per FFN (6 for the released datasets).
        part_features (int): Rows of each expert.

    Returns:
        dict[str, Tensor]: ``backbone.*`` of a ViTPose+ model; the
        ``pos_embed`` grid is the checkpoint's (the backbone resizes it
        when it loads the file).

    Warns:
        UserWarning: If tensors outside ``backbone.*`` are dropped.

    Raises:
        ValueError: If ``state`` already has experts or has no fc2, or
            ``num_expert`` / ``part_features`` do not fit.
    """
    for value, what in ((num_expert, 'num_expert'), (part_features,
                                                     'part_features')):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{what} must be a positive int, got {value!r}')
    if expert_config(state) is not None:
        raise ValueError('The checkpoint already has experts (a ViTPose+ '
                         'checkpoint); init_experts takes a dense one')
    out = {}
    for key, value in state.items():
        if not key.startswith('backbone.'):
            continue
        m = _FC2.match(key)
        if not m:
            out[key] = value
            continue
        if part_features > value.shape[0]:
            raise ValueError(f'part_features={part_features} does not fit '
                             f'{key} with {value.shape[0]} rows')
        shared, expert = unfold_expert(value, part_features)
        out[key] = shared.clone()
        for e in range(num_expert):
            out[_expert_key(m[1], e, m[2])] = expert.clone()
    if not any(_FC2.match(k) for k in out):
        raise ValueError('No backbone.blocks.N.mlp.fc2 weights: not a ViT '
                         'backbone in our layout (convert it first)')
    dropped = [k for k in state if not k.startswith('backbone.')]
    if dropped:
        warnings.warn(
            f'Dropped {len(dropped)} tensors outside the backbone (e.g. '
            f'{dropped[0]}): ViTPose+ heads start from their own init',
            UserWarning,
            stacklevel=2)
    return out
