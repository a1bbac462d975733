"""Whole-image pose estimation: YOLOX people, then ViTPose on every box."""
from pathlib import Path
from typing import List, Optional, Union

import cv2
import numpy as np

from .detector import YoloxDetector
from .pose import PoseModel


def read_image(path: Union[str, Path]) -> np.ndarray:
    """(H, W, 3) uint8 BGR image of a file.

    Raises:
        ValueError: If the file is missing or OpenCV cannot decode it.
    """
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        why = 'not found' if not Path(path).exists() else 'is not an image'
        raise ValueError(f'image {path} {why}')
    return img


def to_instances(boxes: np.ndarray, keypoints: np.ndarray,
                 scores: np.ndarray) -> List[dict]:
    """JSON-ready people, the fields of ``vitpose_mm.tools.demo``:
    ``bbox`` [x1, y1, x2, y2], ``bbox_score``, ``keypoints`` K x [x, y],
    ``keypoint_scores`` K floats, all image pixels / plain floats."""
    return [dict(bbox=[float(v) for v in box[:4]],
                 bbox_score=float(box[4]),
                 keypoints=kpts.astype(float).tolist(),
                 keypoint_scores=kscores.astype(float).tolist())
            for box, kpts, kscores in zip(boxes, keypoints, scores)]


class Estimator:
    """``Estimator(det_onnx, pose_onnx)(image) -> instances``.

    Args:
        det_onnx (str, optional): YOLOX ONNX file (:mod:`.detector`); None
            when boxes are always given to :meth:`__call__`.
        pose_onnx (str): ViTPose file from ``vitpose_mm.tools.export_onnx``.
        bbox_thr (float): Keep person boxes scoring above this (0.3).
        nms_thr (float): IoU of the person-box NMS (0.3).
        det_cat_id (int): Detector label of people (0 in COCO).
        flip_test (bool, optional): Pose flip test; the file's config's
            when None.
        batch_size (int, optional): Crops per pose call; all when None.
        threads (int): onnxruntime intra-op threads; 0 = its default.

    Raises:
        FileNotFoundError / ValueError: From the two loaders (a missing or
            foreign file, named in the message).
    """

    def __init__(self, det_onnx: Optional[str], pose_onnx: str,
                 bbox_thr: float = 0.3, nms_thr: float = 0.3,
                 det_cat_id: int = 0, flip_test: Optional[bool] = None,
                 batch_size: Optional[int] = None, threads: int = 0) -> None:
        self.detector = (YoloxDetector(det_onnx, threads=threads)
                         if det_onnx else None)
        self.pose = PoseModel(pose_onnx, flip_test=flip_test,
                              batch_size=batch_size, threads=threads)
        self.bbox_thr, self.nms_thr = bbox_thr, nms_thr
        self.det_cat_id = det_cat_id

    def people(self, img: np.ndarray) -> np.ndarray:
        """(N, 5) float32 person boxes ``x1, y1, x2, y2, score``.

        Raises:
            ValueError: If the estimator has no detector.
        """
        if self.detector is None:
            raise ValueError('this Estimator has no detector (det_onnx=None)'
                             ': pass boxes')
        return self.detector.people(img, self.det_cat_id, self.bbox_thr,
                                    self.nms_thr)

    def tracker(self, **options):
        """A frame-by-frame people tracker on this estimator's models:
        ``tracker(frame) -> TrackedFrame`` with ``track_id`` per person
        (:class:`vitpose_runtime.tracking.PoseTracker`; options:
        ``method``, ``det_interval``, ``fps``, ``track_seconds``,
        ``smooth``, ``min_cutoff``, ``beta``, ...). Example::

            tracker = Estimator('yolox.onnx', 'pose.onnx').tracker(fps=30)
            for frame in frames:
                people = tracker(frame).instances()  # with 'track_id'
        """
        from .tracking import PoseTracker
        detect = None
        if self.detector is not None:
            def detect(img):
                return self.detector.people_and_rest(
                    img, self.det_cat_id, self.bbox_thr, self.nms_thr,
                    min(0.1, self.bbox_thr))
        options.setdefault('num_keypoints', self.pose.num_keypoints)
        return PoseTracker(detect, self.pose, **options)

    def __call__(self, image: Union[np.ndarray, str, Path],
                 boxes: Optional[np.ndarray] = None) -> List[dict]:
        """The people of one image.

        Args:
            image (np.ndarray | str | Path): (H, W, 3) uint8 BGR image or an
                image file.
            boxes (np.ndarray, optional): (N, 4) or (N, 5) boxes in image
                pixels (score 1 when absent) instead of the detector's.

        Returns:
            list[dict]: One instance per person (:func:`to_instances`), by
            decreasing box score for detected boxes, in the given order
            otherwise.

        Raises:
            ValueError: A bad image, or boxes that are not (N, 4 | 5).
        """
        img = image if isinstance(image, np.ndarray) else read_image(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f'image must be (H, W, 3) uint8 BGR, got '
                             f'{img.dtype} {img.shape}')
        if boxes is None:
            boxes = self.people(img)
        else:
            boxes = np.asarray(boxes, np.float32).reshape(len(boxes), -1)
            if boxes.shape[1] == 4:
                boxes = np.hstack([boxes, np.ones((len(boxes), 1),
                                                  np.float32)])
            if boxes.shape[1] != 5:
                raise ValueError(f'boxes must be (N, 4) or (N, 5), got '
                                 f'{boxes.shape}')
        keypoints, scores = self.pose(img, boxes)
        return to_instances(boxes, keypoints, scores)
