"""A pose estimator reduced to one tensor function: crops -> heatmaps.

:class:`HeatmapNet` is what ONNX export traces and what the speed
benchmarks time: ``(B, 3, H, W)`` normalised crops to ``(B, K, h, w)``
heatmaps, through the backbone, the neck (if any) and one head (the
simple decoder folded: :mod:`.simple_decoder`). For a
ViTPose+ estimator the dataset is fixed when the net is built: its expert
is folded into every FFN (``[fc2; expert]`` stacked into one dense
``fc2`` by :meth:`~vitpose_mm.models.layers.MoEMlp.dense_mlp`) and its
head is taken, so the net is a plain ViTPose with no data-dependent
routing.
"""
import copy
from typing import Optional, Union

from torch import Tensor, nn

from vitpose_mm.checkpoint.experts import resolve_dataset
from vitpose_mm.models.backbones import ViTPoseBackbone
from vitpose_mm.models.layers import MoEMlp

from .simple_decoder import FoldedSimpleDecoder, foldable_simple_decoder


def _dataset_position(model: nn.Module,
                      dataset: Optional[Union[str, int]]) -> int:
    """Index of ``dataset`` (name or index; default: the selected one) in a
    ViTPose+ estimator."""
    names = list(model.dataset_names)
    if dataset is None:
        dataset = model.selected_dataset
        if dataset is None:
            raise ValueError(
                f'This ViTPose+ model has datasets {names}; pass dataset= '
                'one of them (e.g. --dataset coco)')
    return resolve_dataset(dataset, names, holder='this model')


class HeatmapNet(nn.Module):
    """``(B, 3, H, W)`` normalised crops -> ``(B, K, h, w)`` heatmaps.

    Args:
        model (nn.Module): A ``TopdownPoseEstimator`` (ViTPose) or a
            ``ViTPosePlusEstimator``. Its modules are shared; a ViTPose+
            backbone is copied with dense FFNs for the chosen dataset.
        dataset (str | int, optional): ViTPose+ only: the dataset name
            (e.g. ``'coco'``) or index whose expert and head to use;
            defaults to the estimator's selected dataset.

    Attributes:
        dataset_name (str | None): The chosen dataset (ViTPose+), else None.
        dataset_index (int | None): Its index (expert), else None.
        folded_decoder (FoldedSimpleDecoder | None): The simple decoder
            with its final convolution below the upsampling (same heatmaps,
            1/16 of the head's work; :mod:`.simple_decoder`), run in place
            of the neck and the head; None for other decoders.

    Raises:
        ValueError: If ``dataset`` is given for a ViTPose model, is
            missing or unknown for a ViTPose+ model, or the model has no
            backbone / head.
    """

    def __init__(self,
                 model: nn.Module,
                 dataset: Optional[Union[str, int]] = None) -> None:
        super().__init__()
        if not isinstance(getattr(model, 'backbone', None), nn.Module):
            raise ValueError(f'{type(model).__name__} has no backbone')
        self.neck = model.neck if getattr(model, 'with_neck', False) \
            else None
        self.dataset_name = self.dataset_index = None
        if isinstance(getattr(model, 'heads', None), nn.ModuleDict):
            index = _dataset_position(model, dataset)
            self.dataset_index = index
            self.dataset_name = model.dataset_names[index]
            self.head = model.heads[self.dataset_name]
            self.backbone = self._fold_experts(model.backbone, index)
        else:
            if dataset is not None:
                raise ValueError(
                    f'dataset={dataset!r} is for ViTPose+ models; '
                    f'{type(model).__name__} has one head')
            if not isinstance(getattr(model, 'head', None), nn.Module):
                raise ValueError(f'{type(model).__name__} has no head')
            self.backbone, self.head = model.backbone, model.head
        conv = foldable_simple_decoder(self.neck, self.head)
        self.folded_decoder = (FoldedSimpleDecoder(self.neck, conv)
                               if conv is not None else None)

    @staticmethod
    def _fold_experts(backbone: nn.Module, index: int) -> nn.Module:
        """A copy of ``backbone`` whose MoE FFNs are dense for ``index``."""
        folded = copy.deepcopy(backbone)
        for blk in folded.blocks:
            if isinstance(blk.mlp, MoEMlp):
                blk.mlp = blk.mlp.dense_mlp(index)
        return folded

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) float crops, normalised as the model's data
        preprocessor does -> (B, K, h, w) heatmaps."""
        if self.dataset_index is None:
            feats = self.backbone(x)
        else:
            # Every FFN is dense now: run the ViTPose forward, which takes
            # no dataset index.
            feats = ViTPoseBackbone.forward(self.backbone, x)
        if self.folded_decoder is not None:
            return self.folded_decoder(feats)[0]
        if self.neck is not None:
            feats = self.neck(feats)
        return self.head(feats)
