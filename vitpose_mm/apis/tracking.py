"""Video pose estimation with identities, frame by frame, with the torch
models: ``PoseTracker(pose_model, detector)(frame)``.

The tracking itself (association with box IoU and OKS, the ``trackers``
library's Kalman filter, pose-confirmed boxes, the detector interval,
One-Euro smoothing) is numpy code shared with the torch-free runtime:
:mod:`vitpose_runtime.tracking` documents it. This module binds it to an
mmdet detector (:func:`vitpose_mm.apis.init_person_detector`) and a
top-down pose model (:func:`vitpose_mm.apis.init_pose_model`), and turns
its results into mmpose's ``PoseDataSample`` for drawing.

Example, a camera loop::

    from vitpose_mm.apis import (CameraFrames, PoseTracker,
                                 init_person_detector, init_pose_model)
    tracker = PoseTracker(init_pose_model(cfg, ckpt),
                          init_person_detector(det_cfg, det_ckpt),
                          fps=30, det_interval=5, smooth=True)
    for frame in CameraFrames(0):
        people = tracker(frame).instances()   # each with 'track_id'
"""
from typing import List, Optional

import numpy as np
from torch import nn
from vitpose_runtime.tracking import METHODS, PoseTracker as _Core
from vitpose_runtime.tracking import TrackedFrame

from .models import detect_people_and_rest, estimate_poses

__all__ = ['METHODS', 'PoseTracker', 'TrackedFrame']


class PoseTracker(_Core):
    """``PoseTracker(pose_model, detector)(frame) -> TrackedFrame``.

    Args:
        pose_model (nn.Module): A top-down model from
            :func:`vitpose_mm.apis.init_pose_model` (fast path, eager or
            ONNX).
        detector (nn.Module, optional): From
            :func:`vitpose_mm.apis.init_person_detector`; None when every
            call passes ``boxes`` (``--bboxes``).
        bbox_thr (float): People are boxes scoring above this (0.3).
        nms_thr (float): IoU of the person NMS (0.3).
        det_cat_id (int): Detector label of a person (0).
        low_thr (float): Boxes scoring above this but not kept as people
            (ByteTrack's low-score boxes) may continue a track (0.1).
        batch_size (int, optional): Boxes per pose forward; all when None.
        top_down (bool): False for a bottom-up model: every call passes
            ``boxes`` and ``poses`` (no pose-confirmed boxes then).
        **options: Of :class:`vitpose_runtime.tracking.PoseTracker`:
            ``method`` ('pose', 'bytetrack', 'none'), ``det_interval``,
            ``fps``, ``track_seconds``, ``smooth``, ``min_cutoff``,
            ``beta``, ...; OKS sigmas default to the model's
            ``dataset_meta['sigmas']``.

    Attributes:
        samples (list): The ``PoseDataSample`` of every pose forward of the
            last frame (their heatmaps for ``--draw-heatmap``).

    Raises:
        ValueError: Bad options (from the core).
    """

    def __init__(self, pose_model: nn.Module,
                 detector: Optional[nn.Module] = None, bbox_thr: float = 0.3,
                 nms_thr: float = 0.3, det_cat_id: int = 0,
                 low_thr: float = 0.1, batch_size: Optional[int] = None,
                 top_down: bool = True, **options) -> None:
        self.pose_model, self.detector = pose_model, detector
        self.bbox_thr, self.nms_thr = bbox_thr, nms_thr
        self.det_cat_id, self.low_thr = det_cat_id, low_thr
        self.batch_size = batch_size
        self.samples: List = []
        meta = getattr(pose_model, 'dataset_meta', None) or {}
        options.setdefault('sigmas', meta.get('sigmas'))
        options.setdefault('num_keypoints', meta.get('num_keypoints'))
        super().__init__(self._detect if detector is not None else None,
                         self._estimate_poses if top_down else None,
                         **options)

    def __call__(self, frame: np.ndarray, boxes: Optional[np.ndarray] = None,
                 poses=None) -> TrackedFrame:
        """The next frame's people (see the core's ``__call__``); given
        ``boxes`` are filtered by ``bbox_thr`` first, as the demo does."""
        self.samples = []
        if boxes is not None:
            boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
            if poses is None:
                boxes = boxes[boxes[:, 4] > self.bbox_thr]
        return super().__call__(frame, boxes, poses)

    def _detect(self, frame: np.ndarray):
        return detect_people_and_rest(self.detector, frame, self.det_cat_id,
                                      self.bbox_thr, self.nms_thr,
                                      self.low_thr)

    def _estimate_poses(self, frame: np.ndarray, boxes: np.ndarray):
        sample = estimate_poses(self.pose_model, frame, boxes,
                                self.batch_size)
        self.samples.append(sample)
        pred = sample.pred_instances
        return pred.keypoints, pred.keypoint_scores

    def to_sample(self, tracked: TrackedFrame):
        """The frame's people as one mmpose ``PoseDataSample`` (for
        :func:`vitpose_mm.apis.render`): ``pred_instances`` with
        ``bboxes``, ``bbox_scores``, ``keypoints``, ``keypoint_scores``,
        ``keypoints_visible``, ``track_ids``; ``pred_fields.heatmaps``
        merged from the frame's pose forwards when they returned any.
        None for a frame without people."""
        from mmengine.structures import InstanceData, PixelData
        from mmpose.structures import PoseDataSample

        if not len(tracked):
            return None
        sample = PoseDataSample()
        inst = InstanceData()
        inst.bboxes = tracked.boxes[:, :4].copy()
        inst.bbox_scores = tracked.boxes[:, 4].copy()
        inst.keypoints = tracked.keypoints.copy()
        inst.keypoint_scores = tracked.keypoint_scores.copy()
        inst.keypoints_visible = tracked.keypoint_scores.copy()
        inst.track_ids = tracked.track_ids.copy()
        sample.pred_instances = inst
        # each forward's heatmaps are in image pixels already (merged by
        # estimate_poses); a frame's are their maximum, as mmpose merges
        maps = [s.pred_fields.heatmaps for s in self.samples
                if 'pred_fields' in s and 'heatmaps' in s.pred_fields]
        if maps:
            sample.pred_fields = PixelData(heatmaps=np.max(maps, axis=0))
        return sample
