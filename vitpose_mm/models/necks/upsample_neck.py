"""Upsampling neck between the ViTPose backbone and stride-4 heads.

mmpose's DEKR and CID heads expect 1/4-resolution features (HRNet's); the
ViT gives one 1/16 map. mmpose's ``FeatureMapProcessor`` (ReLU, bilinear
x4: the upsampling of the ViTPose simple decoder) bridges the gap, but the
ViT's map is a channels-last view (see
:meth:`~vitpose_mm.models.ViTPoseBackbone.tokens_to_map`) and so is the
upsampled one, and mmcv's ``DeformConv2d`` in DEKR's head refuses it
("input must be contiguous"). :class:`ViTPoseUpsampleNeck` is that
processor with NCHW-contiguous outputs.
"""
from typing import Sequence, Tuple

from mmpose.models.necks import FeatureMapProcessor
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ViTPoseUpsampleNeck(FeatureMapProcessor):
    """``FeatureMapProcessor(scale_factor=4., apply_relu=True)`` by default:
    ((B, C, H/16, W/16),) -> ((B, C, H/4, W/4),), contiguous NCHW.

    Args:
        scale_factor (float): Upsampling factor (bilinear).
        apply_relu (bool): ReLU before upsampling (ViTPose simple decoder).
        **kwargs: Other arguments of mmpose's ``FeatureMapProcessor``.
    """

    def __init__(self, scale_factor: float = 4.0, apply_relu: bool = True,
                 **kwargs) -> None:
        super().__init__(scale_factor=scale_factor, apply_relu=apply_relu,
                         **kwargs)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        return tuple(x.contiguous() for x in super().forward(inputs))
