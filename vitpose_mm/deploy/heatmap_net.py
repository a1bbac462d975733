"""A pose estimator reduced to one tensor function: crops -> heatmaps.

:class:`HeatmapNet` is what ONNX export traces and what the speed
benchmarks time: ``(B, 3, H, W)`` normalised crops to ``(B, K, h, w)``
heatmaps, through the backbone, the neck (if any) and one head. For a
ViTPose+ estimator the dataset is fixed when the net is built: its expert
is folded into every FFN (``[fc2; expert]`` stacked into one dense
``fc2``) and its head is taken, so the net is a plain ViTPose with no
data-dependent routing.
"""
import copy
from typing import Optional, Union

import torch
from torch import Tensor, nn

from vitpose_mm.models.backbones import ViTPoseBackbone
from vitpose_mm.models.layers import Mlp, MoEMlp


def dense_ffn(moe: MoEMlp, expert: int) -> Mlp:
    """The dense FFN equal to ``moe`` for samples of dataset ``expert``.

    Raises:
        ValueError: If ``expert`` is not in [0, num_expert).
    """
    if not 0 <= expert < moe.num_expert:
        raise ValueError(f'expert {expert} out of range [0, '
                         f'{moe.num_expert})')
    part = moe.experts[expert]
    mlp = Mlp(moe.fc1.in_features, moe.fc1.out_features).to(
        moe.fc1.weight.device)
    mlp.act = moe.act
    with torch.no_grad():
        mlp.fc1.load_state_dict(moe.fc1.state_dict())
        mlp.fc2.weight.copy_(torch.cat([moe.fc2.weight, part.weight]))
        mlp.fc2.bias.copy_(torch.cat([moe.fc2.bias, part.bias]))
    return mlp


def _dataset_position(model: nn.Module,
                      dataset: Optional[Union[str, int]]) -> int:
    """Index of ``dataset`` (name or index) in a ViTPose+ estimator."""
    names = list(model.dataset_names)
    if dataset is None:
        dataset = model.selected_dataset
        if dataset is None:
            raise ValueError(
                f'This ViTPose+ model has datasets {names}; pass dataset= '
                'one of them (e.g. --dataset coco)')
    if isinstance(dataset, str):
        if dataset not in names:
            raise ValueError(f'Unknown dataset {dataset!r}; this model has '
                             f'{names}')
        return names.index(dataset)
    if not 0 <= int(dataset) < len(names):
        raise ValueError(f'dataset index {dataset} out of range for '
                         f'{names}')
    return int(dataset)


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

    @staticmethod
    def _fold_experts(backbone: nn.Module, index: int) -> nn.Module:
        """A copy of ``backbone`` whose MoE FFNs are dense for ``index``."""
        folded = copy.deepcopy(backbone)
        for blk in folded.blocks:
            if isinstance(blk.mlp, MoEMlp):
                blk.mlp = dense_ffn(blk.mlp, index)
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
        if self.neck is not None:
            feats = self.neck(feats)
        return self.head(feats)
