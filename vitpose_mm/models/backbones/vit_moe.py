"""The ViTPose+ backbone: the ViTPose ViT with MoE FFNs (ViTPose++, Sec. 3.4).

Port of ``ViTMoE`` in the original ``mmpose/models/backbones/vit_moe.py``.
Everything but the FFN is :class:`ViTPoseBackbone`; each block's FFN is a
:class:`~vitpose_mm.models.layers.MoEMlp` (shared fc1 and a shared fc2
part, one expert per dataset for the last ``part_features`` channels). The
same per-sample ``dataset_index`` selects the expert in every block.

The expert order of the released ViTPose+ checkpoints is
:data:`vitpose_mm.checkpoint.experts.RELEASED_DATASETS`.
"""
from typing import Optional, Tuple

from mmpose.registry import MODELS
from torch import Tensor, nn

from ..layers import MoEMlp
from .vit import ViTPoseBackbone

#: ``part_features`` of the released ViTPose+-S/B/L/H checkpoints.
VITPOSE_PLUS_PART_FEATURES = {'small': 96, 'base': 192, 'large': 256,
                              'huge': 320}


@MODELS.register_module()
class ViTPosePlusBackbone(ViTPoseBackbone):
    """ViTPose+ ViT; ``forward(x, dataset_index)``.

    Args:
        num_expert (int): Experts per FFN, one per training dataset (6).
        part_features (int, optional): Channels each expert produces;
            defaults to the released size for ``arch``.
        **kwargs: Everything :class:`ViTPoseBackbone` takes.

    Raises:
        ValueError: If ``part_features`` is neither given nor implied by
            ``arch``, or does not fit the width.
    """

    def __init__(self,
                 num_expert: int = 6,
                 part_features: Optional[int] = None,
                 **kwargs) -> None:
        if part_features is None:
            arch = kwargs.get('arch')
            if arch not in VITPOSE_PLUS_PART_FEATURES:
                raise ValueError('part_features is required unless arch is '
                                 f'one of {sorted(VITPOSE_PLUS_PART_FEATURES)}'
                                 f' (got arch={arch!r})')
            part_features = VITPOSE_PLUS_PART_FEATURES[arch]
        self.num_expert = num_expert
        self.part_features = part_features
        super().__init__(**kwargs)

    def _make_mlp(self, index: int, drop: float) -> nn.Module:
        return MoEMlp(self.embed_dim, int(self.embed_dim * self.mlp_ratio),
                      self.num_expert, self.part_features, drop=drop)

    def forward(self,
                x: Tensor,
                dataset_index: Optional[Tensor] = None,
                extra_tokens: Optional[Tensor] = None) -> Tuple[Tensor]:
        """(B, 3, H, W) image, (B,) dataset index -> ((B, C, H/16, W/16),);
        ``extra_tokens`` as in :meth:`ViTPoseBackbone.forward_tokens`.

        Raises:
            ValueError: If ``dataset_index`` is missing (with more than one
                expert), has the wrong length or is out of range.
        """
        # Validate once, up front, rather than in the first block.
        index = self.blocks[0].mlp.check_index(dataset_index, x.shape[0])
        return (self.tokens_to_map(
            *self.forward_tokens(x, index, extra_tokens)), )
