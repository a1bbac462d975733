"""YOLOX person detector in ONNX, with mmdet's YOLOX test pipeline.

The model is YOLOX-Nano / -Tiny as exported by Megvii's
``tools/export_onnx.py`` (e.g. ``../shared/weights/yolox_nano_coco.onnx``):
input ``images`` 1x3xSxS float32 **BGR 0-255** (no mean / std), output
1xNx(5 + C): per anchor point ``dx, dy, log w, log h`` (raw),
``sigmoid(objectness)``, C ``sigmoid(class)`` scores.

Pre-processing, as mmdet 3.x's ``yolox_tiny_8xb8-300e_coco.py`` test
pipeline (``Resize(scale=(S, S), keep_ratio=True)`` then
``Pad(pad_to_square=True, pad_val=114)``):

- scale ``r = S / max(h, w)``; new size ``(int(w r + 0.5), int(h r + 0.5))``
  (``mmcv.rescale_size``), ``cv2.resize`` bilinear;
- pad right and bottom to S x S with 114;
- boxes go back to the image by the per-axis factors ``new_w / w``,
  ``new_h / h`` (mmdet's ``scale_factor``), not by ``r``.

Post-processing, as mmdet's ``YOLOXHead.predict_by_feat``:

- anchor points of strides 8, 16, 32 (S/8 x S/8, then S/16, S/32 grids,
  row-major, offset 0): centre ``(dx, dy) * stride + (gx, gy) * stride``,
  size ``exp(log w, log h) * stride``;
- label = argmax of the class scores, score = objectness * that class
  score, kept when >= ``score_thr`` (0.01);
- NMS per class at IoU 0.65 (mmcv's ``nms``: suppress IoU > thr, areas
  ``(x2 - x1) * (y2 - y1)``).

:meth:`YoloxDetector.people` then does what ``vitpose_mm.tools.demo``
does with mmdet's detections: label ``cat_id``, score > ``bbox_thr``,
then mmpose's NMS at ``nms_thr`` (areas with +1 pixel).
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

from .session import make_session

#: Strides of YOLOX's three output levels.
STRIDES = (8, 16, 32)
#: Grey of the letterbox padding (mmdet's ``Pad(pad_val=114)``).
PAD_VALUE = 114


def letterbox(img: np.ndarray, size: int
              ) -> Tuple[np.ndarray, Tuple[float, float]]:
    """Resize keeping the aspect ratio, pad to ``size`` x ``size``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        size (int): Square model input side S, pixels.

    Returns:
        tuple: ``(batch, (w_scale, h_scale))``: (1, 3, S, S) float32 BGR
        0-255 and the factors from image to model pixels per axis.
    """
    h, w = img.shape[:2]
    r = min(size / max(h, w), size / min(h, w))
    new_w, new_h = int(w * r + 0.5), int(h * r + 0.5)
    resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:new_h, :new_w] = resized
    batch = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return batch, (new_w / w, new_h / h)


def anchor_points(size: int, strides: Sequence[int] = STRIDES
                  ) -> np.ndarray:
    """(N, 3) float32 ``gx * s, gy * s, s`` of every output row, level by
    level, row-major (mmdet's ``MlvlPointGenerator(offset=0)``)."""
    rows = []
    for s in strides:
        n = size // s
        gy, gx = np.meshgrid(np.arange(n), np.arange(n), indexing='ij')
        rows.append(np.stack([gx.ravel() * s, gy.ravel() * s,
                              np.full(n * n, s)], axis=1))
    return np.concatenate(rows).astype(np.float32)


def nms_mmcv(boxes: np.ndarray, scores: np.ndarray, thr: float
             ) -> np.ndarray:
    """Greedy NMS as mmcv's ``nms``: by decreasing score, drop boxes whose
    IoU with a kept one is > ``thr``; areas ``(x2 - x1) * (y2 - y1)``.

    Returns:
        np.ndarray: Indices of the kept boxes, by decreasing score.
    """
    return _greedy_nms(boxes, scores, thr, plus_one=0.)


def nms_mmpose(boxes: np.ndarray, scores: np.ndarray, thr: float
               ) -> np.ndarray:
    """Greedy NMS as mmpose's ``evaluation.functional.nms`` (areas and
    intersections with +1 pixel; drop IoU > ``thr``)."""
    return _greedy_nms(boxes, scores, thr, plus_one=1.)


def _greedy_nms(boxes, scores, thr, plus_one):
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + plus_one) * (y2 - y1 + plus_one)
    order = np.argsort(-scores, kind='stable')
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0., np.minimum(x2[i], x2[rest])
                       - np.maximum(x1[i], x1[rest]) + plus_one)
        h = np.maximum(0., np.minimum(y2[i], y2[rest])
                       - np.maximum(y1[i], y1[rest]) + plus_one)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= thr]
    return np.asarray(keep, dtype=np.int64)


class YoloxDetector:
    """A YOLOX ONNX file run by onnxruntime (module docstring).

    Args:
        path (str): The ``.onnx`` file.
        score_thr (float): mmdet's ``test_cfg.score_thr`` (0.01).
        iou_thr (float): mmdet's per-class NMS IoU (0.65).
        threads (int): onnxruntime intra-op threads; 0 = its default.

    Raises:
        ValueError: If the file's input is not 1x3xSxS or its output rows
            do not match the strides 8/16/32 for S.
    """

    def __init__(self, path: str, score_thr: float = 0.01,
                 iou_thr: float = 0.65, threads: int = 0) -> None:
        self.session = make_session(path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        if (len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]
                or not isinstance(shape[2], int)):
            raise ValueError(f'{path}: expected a 1x3xSxS detector input, '
                             f'got {shape}')
        self.size = int(shape[2])
        self.points = anchor_points(self.size)
        rows = self.session.get_outputs()[0].shape[1]
        if isinstance(rows, int) and rows != len(self.points):
            raise ValueError(f'{path}: {rows} output rows, but a {self.size}'
                             f' input has {len(self.points)} anchor points')
        self.score_thr = score_thr
        self.iou_thr = iou_thr

    def detect(self, img: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All detections of one image, as mmdet's YOLOX returns them.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.

        Returns:
            tuple: ``(boxes, scores, labels)``: (N, 4) float32 x1, y1, x2,
            y2 in image pixels, (N,) float32, (N,) int64, by decreasing
            score within each class.
        """
        batch, (sx, sy) = letterbox(img, self.size)
        out = self.session.run(None, {self.input_name: batch})[0][0]
        stride = self.points[:, 2:]
        centre = out[:, :2] * stride + self.points[:, :2]
        half = np.exp(out[:, 2:4]) * stride / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        labels = out[:, 5:].argmax(axis=1)
        scores = out[:, 4] * out[np.arange(len(out)), 5 + labels]
        keep = scores >= self.score_thr
        boxes = boxes[keep] / np.array([sx, sy, sx, sy], np.float32)
        scores, labels = scores[keep], labels[keep]
        kept = [np.flatnonzero(labels == c)[nms_mmcv(
                    boxes[labels == c], scores[labels == c], self.iou_thr)]
                for c in np.unique(labels)]
        kept = np.concatenate(kept) if kept else np.zeros(0, np.int64)
        kept = kept[np.argsort(-scores[kept], kind='stable')]
        return (boxes[kept].astype(np.float32),
                scores[kept].astype(np.float32), labels[kept])

    def people(self, img: np.ndarray, cat_id: int = 0,
               bbox_thr: float = 0.3, nms_thr: float = 0.3) -> np.ndarray:
        """Person boxes as ``vitpose_mm.tools.demo`` keeps them.

        Returns:
            np.ndarray: (N, 5) float32 ``x1, y1, x2, y2, score`` in image
            pixels, by decreasing score.
        """
        return self.people_and_rest(img, cat_id, bbox_thr, nms_thr,
                                    bbox_thr)[0]

    def people_and_rest(self, img: np.ndarray, cat_id: int = 0,
                        bbox_thr: float = 0.3, nms_thr: float = 0.3,
                        low_thr: float = 0.1
                        ) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`people`, and the other person boxes scoring > ``low_thr``
        (below ``bbox_thr`` or removed by the NMS): the low-score boxes a
        tracker may still use (ByteTrack's second association).

        Returns:
            tuple: (N, 5) and (M, 5) float32 ``x1, y1, x2, y2, score``, by
            decreasing score.
        """
        boxes, scores, labels = self.detect(img)
        sel = (labels == cat_id) & (scores > min(low_thr, bbox_thr))
        rows = np.concatenate([boxes[sel], scores[sel, None]],
                              axis=1).astype(np.float32).reshape(-1, 5)
        high = np.flatnonzero(rows[:, 4] > bbox_thr)
        kept = high[nms_mmpose(rows[high, :4], rows[high, 4], nms_thr)]
        rest = np.setdiff1d(np.arange(len(rows)), kept)
        rest = rest[np.argsort(-rows[rest, 4], kind='stable')]
        return rows[kept].reshape(-1, 5), rows[rest].reshape(-1, 5)
