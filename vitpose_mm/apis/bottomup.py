"""Whole-image (bottom-up) pose estimation: no person detector.

:func:`estimate_poses_bottomup` runs a bottom-up model built by
:func:`vitpose_mm.apis.init_pose_model` from a bottom-up config (e.g.
``configs/body_2d_keypoint/associative_embedding/...``) on one BGR image
and returns what the top-down :func:`vitpose_mm.apis.estimate_poses`
returns, so :func:`vitpose_mm.apis.to_instances` and
:func:`vitpose_mm.apis.render` take it unchanged. The person box of each
instance is the box around its keypoints (there is no detector box).
"""
from typing import Optional

import numpy as np
from torch import nn

from .inputs import resizing


def is_bottomup(model: nn.Module) -> bool:
    """Whether ``model`` estimates poses from the whole image (mmpose's
    ``BottomupPoseEstimator`` or a subclass)."""
    from mmpose.models.pose_estimators import BottomupPoseEstimator
    return isinstance(model, BottomupPoseEstimator)


def estimate_poses_bottomup(model: nn.Module, img: np.ndarray,
                            score_thr: float = 0.0):
    """Keypoints of every person in a whole image.

    The image goes through the config's test pipeline (``BottomupResize``
    to the input size, aspect ratio kept) and the model's ``test_step``
    (flip test and grouping as the config says), as
    :func:`mmpose.apis.inference_bottomup`.

    Args:
        model (nn.Module): A bottom-up pose model with ``cfg`` and
            ``dataset_meta`` (:func:`vitpose_mm.apis.init_pose_model`).
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        score_thr (float): Instances whose score (``bbox_scores``: the mean
            keypoint score of the group) is at or below this are dropped.

    Returns:
        PoseDataSample | None: One sample whose ``pred_instances`` hold
        ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K) in image
        pixels, ``bboxes`` (N, 4) xyxy around each person's keypoints
        and ``bbox_scores`` (N,); None when nobody is found (as the
        top-down path for an image without detections).

    Raises:
        ValueError: If ``model`` is not bottom-up or ``img`` is not an
            (H, W, 3) uint8 image.
        UnresizableImage: ``BottomupResize`` cannot scale ``img`` (a side
            scales to 0 pixels).
    """
    from mmpose.apis import inference_bottomup

    if not is_bottomup(model):
        raise ValueError(f'{type(model).__name__} is not a bottom-up model; '
                         'use estimate_poses with person boxes')
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError('img must be an (H, W, 3) uint8 BGR image, got '
                         f'{img.dtype} {img.shape}')
    with resizing(img, 'pose model'):
        (sample, ) = inference_bottomup(model, img)
    pred = sample.pred_instances
    keep = np.asarray(pred.bbox_scores) > score_thr
    if not keep.any():
        return None
    pred = pred[keep]
    kpts = np.asarray(pred.keypoints, np.float32)  # (N, K, 2)
    pred.bboxes = np.concatenate([kpts.min(axis=1), kpts.max(axis=1)],
                                 axis=1)
    pred.bbox_scores = np.asarray(pred.bbox_scores, np.float32)
    sample.pred_instances = pred
    return sample
