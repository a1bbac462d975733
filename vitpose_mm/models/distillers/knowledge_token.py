"""Stage 1 of knowledge-token distillation (ViTPose paper, Sec. 3.4).

A learnable knowledge token ``t`` is appended to the patch tokens of a
trained, frozen teacher, after the position embedding, and only ``t`` is
trained on the teacher's ground-truth heatmap loss::

    t* = argmin_t  MSE(T({t; X}), K_gt)

The teacher is this estimator's own ``backbone`` / ``neck`` / ``head``, so
a stage-1 config is a small delta on the teacher's config. Stage 2 is
:class:`~vitpose_mm.models.distillers.ViTPoseDistiller`, which reads
``t*`` from the file that :class:`~vitpose_mm.models.distillers.
ViTPoseExportHook` writes at the end of this stage.
"""
from typing import Dict, Optional, Tuple

import torch
from mmengine.model.weight_init import trunc_normal_
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..backbones import ViTPoseBackbone
from .teacher import freeze, load_pose_weights


@MODELS.register_module()
class ViTPoseKnowledgeTokenLearner(TopdownPoseEstimator):
    """A frozen ViTPose teacher that learns a knowledge token.

    Every parameter but ``knowledge_token`` has ``requires_grad=False`` and
    the backbone, neck and head stay in eval mode (no drop path, no
    dropout) also while the model is in train mode. ``init_weights`` (the
    Runner calls it before training) loads the teacher from
    ``teacher_checkpoint`` and draws the token from a truncated normal
    (std 0.02, as ViT tokens). Validation runs the teacher with the token,
    the model the token is trained for.

    Args:
        teacher_checkpoint (str): Weights-only file of the trained teacher
            (see :func:`~vitpose_mm.models.distillers.teacher.
            load_pose_weights`).
        num_tokens (int): Number K of knowledge tokens (1 in the paper).
        **kwargs: The teacher's :class:`TopdownPoseEstimator` arguments
            (``backbone`` must be a ViTPose backbone with full attention).

    Raises:
        ValueError: If the backbone is not a ViTPose backbone or uses
            window attention, or ``num_tokens`` < 1.
    """

    def __init__(self,
                 teacher_checkpoint: str,
                 num_tokens: int = 1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.backbone, ViTPoseBackbone):
            raise ValueError('The knowledge token needs a ViTPose backbone, '
                             f'got {type(self.backbone).__name__}')
        if self.backbone.has_window_attention:
            raise ValueError('The knowledge token needs full attention; the '
                             f'backbone has attn_types='
                             f'{self.backbone.attn_types}')
        if num_tokens < 1:
            raise ValueError(f'num_tokens must be >= 1, got {num_tokens}')
        self.teacher_checkpoint = teacher_checkpoint
        # (1, K, C), broadcast over the batch.
        self.knowledge_token = nn.Parameter(
            torch.zeros(1, num_tokens, self.backbone.embed_dim))
        freeze(*self._teacher_parts().values())

    def _teacher_parts(self) -> Dict[str, nn.Module]:
        parts = dict(backbone=self.backbone, head=self.head)
        if self.with_neck:
            parts['neck'] = self.neck
        return parts

    def init_weights(self) -> None:
        """Load the teacher from ``teacher_checkpoint`` (strict) and draw
        the token; the teacher is not randomly initialised first."""
        teacher = nn.Module()
        for name, part in self._teacher_parts().items():
            teacher.add_module(name, part)
        load_pose_weights(teacher, self.teacher_checkpoint)
        trunc_normal_(self.knowledge_token, std=.02)

    def train(self, mode: bool = True) -> 'ViTPoseKnowledgeTokenLearner':
        """Set train mode; the teacher stays in eval mode."""
        super().train(mode)
        freeze(*self._teacher_parts().values())
        return self

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor]:
        """(B, 3, H, W) -> the teacher's features with the token appended
        to its patch tokens (and dropped before the feature map)."""
        feats = self.backbone(inputs, extra_tokens=self.knowledge_token)
        return self.neck(feats) if self.with_neck else feats

    def export_state_dict(self) -> Dict[str, Tensor]:
        """``{'knowledge_token': (1, K, C)}``, what stage 2 reads."""
        return {'knowledge_token': self.knowledge_token.detach().cpu()}

    def export_meta(self) -> Dict[str, Optional[str]]:
        """Provenance written next to the exported token."""
        return dict(teacher_checkpoint=self.teacher_checkpoint,
                    embed_dim=str(self.backbone.embed_dim))
