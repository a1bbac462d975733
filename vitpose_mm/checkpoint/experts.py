"""The ViTPose+ dataset/expert idea: dataset order, dataset -> expert, folding.

ViTPose++ (TPAMI'23, Sec. 3.4) gives each training dataset one expert in
every FFN: expert ``e`` serves dataset ``e`` of an ordered list of names.
Three things follow from that, each declared here once:

- :data:`RELEASED_DATASETS`: the order of the released ViTPose+
  checkpoints (the names of our ViTPose+ configs).
- :func:`resolve_dataset`: a dataset given by name or by index -> its
  expert index, with the one set of error messages. Checkpoint tools
  (:mod:`.moe`), the estimator
  (:class:`~vitpose_mm.models.ViTPosePlusEstimator`), the export net and
  the inference APIs all call it.
- :func:`fold_expert` / :func:`unfold_expert`: the FFN output layout,
  **shared channels first, expert channels last**. The FFN of dataset
  ``e`` is one dense Linear whose rows are ``[fc2; experts.e]`` (weight
  and bias alike); :class:`~vitpose_mm.models.layers.MoEMlp` builds it
  with :func:`fold_expert`, the checkpoint tools split and merge with both.

Pure functions of names and tensors: nothing here imports ``models/``.
"""
import numbers
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

#: Datasets of the released ViTPose+ checkpoints, in expert order (the
#: names of our ViTPose+ configs): 0 COCO, 1 AIC, 2 MPII, 3 AP-10K,
#: 4 APT-36K, 5 COCO-WholeBody.
RELEASED_DATASETS = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'wholebody')

#: A dataset given by name (``'coco'``) or expert index (``0``).
Dataset = Union[int, str]


def head_names_of(state) -> List[str]:
    """Names of the per-dataset heads ``heads.<name>.*`` of a ViTPose+
    state dict in our layout (or a model's ``state_dict()``), in key order
    (the model's dataset order); [] for a plain model."""
    names = []
    for key in state:
        if key.startswith('heads.'):
            name = key.split('.')[1]
            if name not in names:
                names.append(name)
    return names


def resolve_dataset(dataset: Dataset,
                    names: Optional[Sequence[str]],
                    count: Optional[int] = None,
                    what: str = 'dataset',
                    holder: Optional[str] = None) -> int:
    """The expert index of ``dataset``, a name in ``names`` or an index.

    Args:
        dataset (str or int): A dataset name or an expert index.
        names (sequence of str, optional): The dataset names in expert
            order; None where they are unknown (then only an index works).
        count (int, optional): The number of experts; defaults to
            ``len(names)``.
        what (str): What ``dataset`` is called in the messages (e.g.
            ``'shared_from'``).
        holder (str, optional): Who holds ``names``, for the message of an
            unknown name: ``"Unknown dataset 'x'; this model has [...]"``
            with ``holder='this model'``, ``"...; choose from [...]"``
            without.

    Returns:
        int: The index in [0, count).

    Raises:
        ValueError: If ``dataset`` is neither a str nor an int, the index
            is out of range, the name is unknown, or a name is given while
            ``names`` is None.
    """
    if isinstance(dataset, bool) or not isinstance(dataset,
                                                   (numbers.Integral, str)):
        raise ValueError(f'{what} must be a name or an index, got '
                         f'{dataset!r}')
    names = None if names is None else list(names)
    if count is None:
        count = len(names or ())
    if not isinstance(dataset, str):
        index = int(dataset)
        if not 0 <= index < count:
            listed = f' {names}' if names else ''
            raise ValueError(f'{what} index {index} out of range [0, '
                             f'{count}) for the {count} datasets{listed}')
        return index
    if names is None:
        raise ValueError(f'Cannot find {what} {dataset!r} by name: the '
                         f'{count} experts have no names; pass an index')
    if dataset not in names:
        choices = (f'{holder} has {names}'
                   if holder else f'choose from {names}')
        raise ValueError(f'Unknown {what} {dataset!r}; {choices}')
    return names.index(dataset)


def fold_expert(shared: Tensor, expert: Tensor) -> Tensor:
    """The dense fc2 tensor of one dataset: rows ``[fc2; expert]``.

    Args:
        shared (Tensor): The shared ``fc2`` weight (C - P, hidden) or bias
            (C - P,).
        expert (Tensor): That dataset's expert weight (P, hidden) or bias
            (P,).

    Returns:
        Tensor: (C, hidden) or (C,), shared rows first (a new tensor; it
        carries gradients to both inputs).

    Raises:
        ValueError: If the two do not stack (ranks or trailing sizes
            differ), naming both shapes.
    """
    if shared.dim() != expert.dim() or shared.shape[1:] != expert.shape[1:]:
        raise ValueError(f'Cannot stack the expert {tuple(expert.shape)} '
                         f'under the shared fc2 {tuple(shared.shape)}')
    return torch.cat([shared, expert], dim=0)


def unfold_expert(dense: Tensor, part_features: int) -> Tuple[Tensor, Tensor]:
    """Split a dense fc2 tensor into ``(shared, expert)`` rows; the inverse
    of :func:`fold_expert`.

    Args:
        dense (Tensor): A dense fc2 weight (C, hidden) or bias (C,).
        part_features (int): Rows of the expert, P.

    Returns:
        tuple[Tensor, Tensor]: Views of the first C - P rows and the last P
        rows (clone them before saving: safetensors refuses shared storage).

    Raises:
        ValueError: If ``part_features`` is not in [1, C].
    """
    rows = dense.shape[0]
    if not 1 <= part_features <= rows:
        raise ValueError(f'part_features={part_features} does not fit a '
                         f'fc2 with {rows} rows')
    return dense[:rows - part_features], dense[rows - part_features:]
