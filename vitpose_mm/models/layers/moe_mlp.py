"""The ViTPose+ mixture-of-experts FFN (ViTPose++, TPAMI'23, Sec. 3.4).

Port of ``MoEMlp`` in the original ``mmpose/models/backbones/vit_moe.py``:
fc1 (C -> hidden) and GELU are shared by all datasets; the second linear
layer is split into a shared part ``fc2`` (hidden -> C - part_features) and
one expert per dataset (hidden -> part_features). The output is the channel
concatenation **shared channels first, expert channels last**.

Differences from the original, on purpose:

- Each expert runs only on the samples routed to it; the original runs every
  expert on the whole batch and multiplies by a 0/1 mask. A batch from one
  dataset (inference) costs one fused GEMM, as a dense FFN.
- An index outside [0, num_expert) raises a ValueError; the original silently
  returns zero expert channels.
- Experts that get no sample in a batch still join the autograd graph with a
  zero contribution, so DDP does not see unused parameters when a batch
  lacks some datasets.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vitpose_mm.checkpoint.experts import fold_expert
from .mlp import Mlp


class MoEMlp(nn.Module):
    """FFN with a shared fc1, a shared fc2 part and per-dataset experts.

    Args:
        in_features (int): Token width C.
        hidden_features (int): Hidden width, ``mlp_ratio * C``.
        num_expert (int): Number of experts (datasets); 6 in ViTPose+.
        part_features (int): Output channels of each expert (96/192/256/320
            for ViTPose+-S/B/L/H); the shared fc2 gives the other
            C - part_features channels.
        drop (float): Dropout probability.

    Raises:
        ValueError: If ``part_features`` is not in (0, C].
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: int,
                 num_expert: int = 1,
                 part_features: int = 256,
                 drop: float = 0.) -> None:
        super().__init__()
        if not 0 < part_features <= in_features:
            raise ValueError(f'part_features={part_features} must be in '
                             f'(0, embed_dim={in_features}]')
        self.num_expert = num_expert
        self.part_features = part_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features - part_features)
        self.experts = nn.ModuleList(
            nn.Linear(hidden_features, part_features)
            for _ in range(num_expert))
        self.drop = nn.Dropout(drop)

    def check_index(self, dataset_index: Optional[Tensor],
                    batch_size: int) -> Tensor:
        """Validate a (B,) dataset index; None is allowed with one expert.

        Raises:
            ValueError: If the index is missing with several experts, has
                the wrong shape, or holds a value outside [0, num_expert).
        """
        if dataset_index is None:
            if self.num_expert == 1:
                return torch.zeros(batch_size, dtype=torch.long)
            raise ValueError(
                f'This ViTPose+ FFN has {self.num_expert} experts and needs '
                'a dataset_index (one int per sample); got None')
        index = torch.as_tensor(dataset_index).long().reshape(-1)
        if index.numel() != batch_size:
            raise ValueError(f'dataset_index has {index.numel()} entries for '
                             f'a batch of {batch_size}')
        bad = index[(index < 0) | (index >= self.num_expert)]
        if bad.numel():
            raise ValueError(f'dataset_index {bad.tolist()} out of range '
                             f'[0, {self.num_expert})')
        return index

    def dense_fc2(self, expert: int) -> Tuple[Tensor, Tensor]:
        """The fc2 of dataset ``expert`` as one dense Linear: the
        (C, hidden) weight and (C,) bias with rows ``[fc2; experts[expert]]``
        (:func:`~vitpose_mm.checkpoint.experts.fold_expert`). New tensors
        that carry gradients to ``fc2`` and the expert.

        Raises:
            ValueError: If ``expert`` is not in [0, num_expert).
        """
        if not 0 <= expert < self.num_expert:
            raise ValueError(f'expert {expert} out of range [0, '
                             f'{self.num_expert})')
        part = self.experts[expert]
        return (fold_expert(self.fc2.weight, part.weight),
                fold_expert(self.fc2.bias, part.bias))

    def dense_mlp(self, expert: int) -> Mlp:
        """A dense :class:`Mlp` equal to this FFN for samples of dataset
        ``expert`` (fc1 and the activation copied, fc2 from
        :meth:`dense_fc2`; no dropout), on this FFN's device.

        Raises:
            ValueError: If ``expert`` is not in [0, num_expert).
        """
        weight, bias = self.dense_fc2(expert)
        mlp = Mlp(self.fc1.in_features, self.fc1.out_features).to(
            self.fc1.weight.device)
        mlp.act = self.act
        with torch.no_grad():
            mlp.fc1.load_state_dict(self.fc1.state_dict())
            mlp.fc2.weight.copy_(weight)
            mlp.fc2.bias.copy_(bias)
        return mlp

    def forward(self,
                x: Tensor,
                dataset_index: Optional[Tensor] = None) -> Tensor:
        """(B, N, C) tokens, (B,) index -> (B, N, C); see the module doc."""
        B = x.shape[0]
        index = self.check_index(dataset_index, B).to(x.device)
        h = self.drop(self.act(self.fc1(x)))
        experts = index.unique()
        if experts.numel() == 1:
            # One dataset in the batch: one GEMM with [fc2; expert] stacked.
            out = F.linear(h, *self.dense_fc2(int(experts)))
        else:
            shared = self.fc2(h)
            part = h.new_empty(B, h.shape[1], self.part_features)
            for e in experts.tolist():
                rows = (index == e).nonzero(as_tuple=True)[0]
                part[rows] = self.experts[e](h[rows])
            out = torch.cat([shared, part], dim=-1)
        if self.training:
            used = set(experts.tolist())
            for e, expert in enumerate(self.experts):
                if e not in used:
                    out = out + 0. * (expert.weight.sum() + expert.bias.sum())
        return self.drop(out)
