"""The dense feed-forward network (FFN) of a ViTPose block."""
from typing import Optional

from torch import Tensor, nn


class Mlp(nn.Module):
    """fc1 -> GELU (exact, erf) -> dropout -> fc2 -> dropout.

    Port of ``Mlp`` in the original ``vit.py``; the tanh GELU approximation
    would differ from the original by about 3.5e-4.

    Args:
        in_features (int): Token width C.
        hidden_features (int): Hidden width, ``mlp_ratio * C``.
        drop (float): Dropout probability.
    """

    def __init__(self,
                 in_features: int,
                 hidden_features: int,
                 drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self,
                x: Tensor,
                dataset_index: Optional[Tensor] = None) -> Tensor:
        """(B, N, C) -> (B, N, C). ``dataset_index`` is unused here; it is
        accepted so that a block can call a dense or a MoE FFN alike."""
        x = self.drop(self.act(self.fc1(x)))
        return self.drop(self.fc2(x))
