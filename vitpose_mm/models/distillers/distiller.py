"""Stage 2: a student distilled from a ViTPose teacher (ViTPose, Sec. 3.4).

Two kinds of knowledge transfer of the paper's transferability study, alone
or combined (its distillation ablation):

- **knowledge-token distillation**: the token ``t*`` learned on the frozen
  teacher in stage 1 (:class:`~vitpose_mm.models.distillers.
  ViTPoseKnowledgeTokenLearner`) is frozen and appended to the student's
  patch tokens, and the student trains on the ground-truth loss,
  ``MSE(S({t*; X}), K_gt)``;
- **output (heatmap) distillation**: ``MSE(S(X), T(X))`` between the
  student's and the frozen teacher's heatmaps of the same input, added to
  the ground-truth loss with the weight of ``heatmap_distill_loss``.

Design choices (the paper is silent on them):

- The student *is* this estimator (``backbone`` / ``neck`` / ``head`` and
  the data preprocessor are top-level arguments, so a distillation config
  is a delta on the student's config); the teacher is ``self.teacher``.
- The teacher and the token are not part of the state dict: a checkpoint
  of the distiller holds exactly the student's keys and loads into the
  plain student config (``load_from``, ``tools/test.py``) without the
  teacher. The teacher is re-read from ``teacher_checkpoint`` and the
  token from ``knowledge_token`` by ``init_weights``, which the Runner
  calls before it loads or resumes a checkpoint.
  :class:`~vitpose_mm.engine.hooks.ViTPoseExportHook` also writes the
  student as a weights-only file.
- The token is a training device: prediction (validation, test) runs the
  plain student, the model the exported checkpoint holds.
- A teacher wider than the student (ViTPose-L 1024 -> ViTPose-B 768)
  bridges its token with the fixed map of
  :func:`~vitpose_mm.models.distillers.teacher.project_tokens`.
- The teacher sees the student's preprocessed inputs (same mean / std and
  input size, checked); it runs without the token.
"""
from typing import Dict, Optional

import torch
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import SampleList
from torch import Tensor, nn

from ..backbones import ViTPoseBackbone
from .teacher import freeze, load_pose_weights, project_tokens


@MODELS.register_module()
class ViTPoseDistiller(TopdownPoseEstimator):
    """A ViTPose student trained with a knowledge token and/or the heatmaps
    of a frozen teacher.

    Args:
        teacher (dict, optional): Model config of the teacher (a top-down
            heatmap estimator, e.g. ``TopdownPoseEstimator`` with a
            ViTPose-L backbone); needed for heatmap distillation only.
            Built in eval mode with ``requires_grad=False`` and kept so in
            train mode.
        teacher_checkpoint (str, optional): Weights-only file of the
            trained teacher, loaded strictly by ``init_weights``.
        knowledge_token (str, optional): File with a ``knowledge_token``
            (1, K, Ct) tensor, as written by ``ViTPoseExportHook`` after
            stage 1. Frozen, projected to the student width if needed.
        heatmap_distill_loss (dict, optional): Loss between the student's
            and the teacher's (B, K, H, W) heatmaps, e.g.
            ``dict(type='KeypointMSELoss', loss_weight=1.)``; its
            ``loss_weight`` weighs it against the ground-truth loss (that
            of the student's head). Logged as ``loss_heatmap_kd``.
        **kwargs: The student's :class:`TopdownPoseEstimator` arguments.

    Raises:
        ValueError: If nothing is distilled, a teacher is given without
            heatmap distillation or the reverse, the student's head is not
            a heatmap head, the token meets a student that is not a
            full-attention ViTPose, or teacher and student disagree on the
            input size or keypoint count.
    """

    def __init__(self,
                 teacher: Optional[dict] = None,
                 teacher_checkpoint: Optional[str] = None,
                 knowledge_token: Optional[str] = None,
                 heatmap_distill_loss: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if knowledge_token is None and heatmap_distill_loss is None:
            raise ValueError('ViTPoseDistiller needs knowledge_token and/or '
                             'heatmap_distill_loss; neither was given')
        if (heatmap_distill_loss is None) != (teacher is None) or (
                teacher is None) != (teacher_checkpoint is None):
            raise ValueError(
                'teacher, teacher_checkpoint and heatmap_distill_loss go '
                f'together (got teacher={"set" if teacher else None}, '
                f'teacher_checkpoint={teacher_checkpoint!r}, '
                f'heatmap_distill_loss={heatmap_distill_loss})')
        if not isinstance(self.head, HeatmapHead):
            raise ValueError('ViTPoseDistiller distils heatmaps; the '
                             f'student head is {type(self.head).__name__}')
        self.teacher_checkpoint = teacher_checkpoint
        self.knowledge_token_file = knowledge_token
        if knowledge_token is not None:
            if not isinstance(self.backbone, ViTPoseBackbone):
                raise ValueError(
                    'The knowledge token needs a ViTPose student backbone, '
                    f'got {type(self.backbone).__name__}')
            if self.backbone.has_window_attention:
                raise ValueError(
                    'The knowledge token needs full attention; the student '
                    f'has attn_types={self.backbone.attn_types}')
            # Filled by init_weights; not saved (see the module doc).
            self.register_buffer(
                'knowledge_token', torch.zeros(1, 1, self.backbone.embed_dim),
                persistent=False)
            self._token_loaded = False
        self.teacher = None
        self.heatmap_distill_loss = None
        if teacher is not None:
            self.teacher = MODELS.build(teacher)
            self._check_teacher()
            freeze(self.teacher)
            self.heatmap_distill_loss = MODELS.build(heatmap_distill_loss)
            self._register_state_dict_hook(_drop_teacher_keys)
            self._register_load_state_dict_pre_hook(_fill_teacher_keys,
                                                    with_module=True)

    def _check_teacher(self) -> None:
        sizes = [getattr(m.backbone, 'img_size', None)
                 for m in (self, self.teacher)]
        if sizes[0] != sizes[1]:
            raise ValueError(f'Teacher img_size {sizes[1]} differs from the '
                             f'student img_size {sizes[0]}: both see the '
                             'same input')
        keypoints = [m.head.out_channels for m in (self, self.teacher)]
        if keypoints[0] != keypoints[1]:
            raise ValueError(f'Teacher predicts {keypoints[1]} keypoints, '
                             f'the student {keypoints[0]}')

    # ------------------------------------------------------------ weights --
    def init_weights(self) -> None:
        """Initialise the student (its own ``init_cfg``s), then load the
        frozen teacher and the frozen knowledge token from their files."""
        teacher, self.teacher = self.teacher, None  # not re-initialised
        try:
            super().init_weights()
        finally:
            self.teacher = teacher
        if self.teacher is not None:
            load_pose_weights(self.teacher, self.teacher_checkpoint)
        if self.knowledge_token_file is not None:
            self._load_token()

    def _load_token(self) -> None:
        from vitpose_mm.checkpoint import load_state_dict_file
        state = load_state_dict_file(self.knowledge_token_file)
        token = state.get('knowledge_token')
        if token is None or token.dim() != 3 or token.shape[0] != 1:
            raise ValueError(
                f'{self.knowledge_token_file} holds no (1, K, C) '
                f'knowledge_token (keys: {sorted(state)[:5]}); write it with '
                'ViTPoseExportHook after the token stage')
        token = project_tokens(token, self.backbone.embed_dim)
        self.knowledge_token = token.to(self.knowledge_token)
        self._token_loaded = True

    def train(self, mode: bool = True) -> 'ViTPoseDistiller':
        """Set train mode; the teacher stays in eval mode."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def export_state_dict(self) -> Dict[str, Tensor]:
        """The student's weights (the state dict: no teacher, no token)."""
        return {k: v.detach().cpu() for k, v in self.state_dict().items()}

    def export_meta(self) -> Dict[str, Optional[str]]:
        """Provenance written next to the exported student."""
        return dict(teacher_checkpoint=self.teacher_checkpoint,
                    knowledge_token=self.knowledge_token_file)

    # --------------------------------------------------------------- loss --
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Ground-truth loss of the student (with the token, if any) plus
        the heatmap distillation loss, if any.

        Returns:
            dict: ``loss_kpt`` and ``acc_pose`` as mmpose's
            ``HeatmapHead.loss``, and ``loss_heatmap_kd``.

        Raises:
            RuntimeError: If the token was not loaded (``init_weights``).
            ValueError: If the teacher's heatmaps have another shape.
        """
        tokens = None
        if self.knowledge_token_file is not None:
            if not self._token_loaded:
                raise RuntimeError(
                    'The knowledge token is not loaded: call init_weights() '
                    f'(the Runner does) to read {self.knowledge_token_file}')
            tokens = self.knowledge_token
        feats = self.backbone(inputs, extra_tokens=tokens)
        if self.with_neck:
            feats = self.neck(feats)
        heatmaps = self.head.forward(feats)  # (B, K, H, W)
        losses = self._ground_truth_losses(heatmaps, data_samples)
        if self.teacher is not None:
            with torch.no_grad():
                target = self.teacher.head.forward(
                    self.teacher.extract_feat(inputs))
            if target.shape != heatmaps.shape:
                raise ValueError(
                    f'Teacher heatmaps {tuple(target.shape)} and student '
                    f'heatmaps {tuple(heatmaps.shape)} differ in shape')
            losses['loss_heatmap_kd'] = self.heatmap_distill_loss(
                heatmaps, target)
        return losses

    def _ground_truth_losses(self, heatmaps: Tensor,
                             data_samples: SampleList) -> dict:
        """mmpose's ``HeatmapHead.loss`` on heatmaps computed once, so that
        the heatmap distillation reuses the same student forward."""
        gt = torch.stack([d.gt_fields.heatmaps for d in data_samples])
        weights = torch.cat(
            [d.gt_instance_labels.keypoint_weights for d in data_samples])
        losses = dict(loss_kpt=self.head.loss_module(heatmaps, gt, weights))
        if self.train_cfg.get('compute_acc', True):
            _, acc, _ = pose_pck_accuracy(
                output=to_numpy(heatmaps), target=to_numpy(gt),
                mask=to_numpy(weights) > 0)
            losses['acc_pose'] = torch.tensor(acc, device=gt.device)
        return losses


def _drop_teacher_keys(module: nn.Module, state_dict: dict, prefix: str,
                       local_metadata: dict) -> None:
    """State-dict hook: leave the frozen teacher out of checkpoints."""
    for key in [k for k in state_dict if k.startswith(prefix + 'teacher.')]:
        del state_dict[key]


def _fill_teacher_keys(module: ViTPoseDistiller, state_dict: dict,
                       prefix: str, *args) -> None:
    """Load pre-hook: a student-only state dict loads strictly; the teacher
    keeps the weights ``init_weights`` gave it."""
    for key, value in module.teacher.state_dict().items():
        state_dict.setdefault(prefix + 'teacher.' + key, value)
