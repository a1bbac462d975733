"""The ViTPose+ MoE FFN for inference: one fused GEMM per expert.

:class:`~vitpose_mm.models.layers.MoEMlp` computes, for a sample of
dataset ``e``, ``cat([fc2(h), experts[e](h)])`` with ``h = GELU(fc1(x))``,
which is one linear layer with the stacked weight ``[fc2; experts[e]]``
(:meth:`MoEMlp.dense_fc2`, rows by
:func:`~vitpose_mm.checkpoint.experts.fold_expert`). Here that stacked
layer is built (and packed) the first time expert ``e`` is used, so a
model serving one dataset holds one extra copy of fc2 per block, not one
per expert. The fc2 and expert tensors are kept, not the ``MoEMlp``
itself, so that its fc1 can be freed once packed.
"""
from typing import Callable, Dict, Optional

import torch
from torch import Tensor, nn

from vitpose_mm.checkpoint.experts import fold_expert
from vitpose_mm.models.layers import MoEMlp

#: ``make_linear(linear, gelu) -> module`` (e.g. a :class:`FastLinear`).
LinearFactory = Callable[[nn.Linear, bool], nn.Module]


class FastMoEMlp(nn.Module):
    """Inference-only :class:`MoEMlp` with fused fc1 + GELU and, per
    expert, one stacked ``[fc2; expert]`` GEMM.

    Args:
        moe (MoEMlp): The FFN to copy. Its fc2 and expert weights are
            shared, as plain (unregistered) tensors, until an expert is
            first used.
        make_linear (callable): ``(nn.Linear, gelu: bool) -> module``
            building the fast layers.
    """

    #: Same validation as the training module (ValueError on bad input).
    check_index = MoEMlp.check_index

    def __init__(self, moe: MoEMlp, make_linear: LinearFactory) -> None:
        super().__init__()
        if not isinstance(moe.act, nn.GELU) or moe.act.approximate != 'none':
            raise ValueError(f'FastMoEMlp fuses exact GELU; got {moe.act}')
        self.num_expert = moe.num_expert
        self.part_features = moe.part_features
        self.make_linear = make_linear
        self.fc1 = make_linear(moe.fc1, True)
        # Plain tuples, not submodules: nothing converts them in place.
        self._fc2 = (moe.fc2.weight.detach(), moe.fc2.bias.detach())
        self._experts = [(e.weight.detach(), e.bias.detach())
                         for e in moe.experts]
        self._stacked: Dict[int, nn.Module] = {}

    def stacked(self, expert: int) -> nn.Module:
        """The fast layer computing ``cat([fc2(h), experts[expert](h)])``."""
        if expert not in self._stacked:
            (w2, b2), (we, be) = self._fc2, self._experts[expert]
            # The rows of MoEMlp.dense_fc2, from the tensors kept here.
            weight, bias = fold_expert(w2, we), fold_expert(b2, be)
            linear = nn.Linear(weight.shape[1], weight.shape[0],
                               device=weight.device)
            with torch.no_grad():
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
            self._stacked[expert] = self.make_linear(linear, False)
        return self._stacked[expert]

    def forward(self,
                x: Tensor,
                dataset_index: Optional[Tensor] = None) -> Tensor:
        """(B, N, C) tokens, (B,) expert index -> (B, N, C).

        Raises:
            ValueError: As :meth:`MoEMlp.check_index`.
        """
        index = self.check_index(dataset_index, x.shape[0])
        h = self.fc1(x)
        experts = index.unique().tolist()
        if len(experts) == 1:
            return self.stacked(experts[0])(h)
        out = None
        for e in experts:
            rows = (index == e).nonzero(as_tuple=True)[0].to(x.device)
            part = self.stacked(e)(h[rows])
            if out is None:
                out = part.new_empty(x.shape[0], *part.shape[1:])
            out[rows] = part
        return out
