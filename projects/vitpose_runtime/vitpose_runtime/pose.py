"""A ViTPose / ViTPose+ ONNX file from ``vitpose_mm.tools.export_onnx``.

The file maps (B, 3, h, w) normalised crops to (B, K, h/4, w/4) heatmaps
(``input`` -> ``heatmaps``); its ``vitpose_mm.runtime`` metadata (JSON,
described in ``vitpose_mm/deploy/onnx_meta.py``) says how to crop,
normalise, flip, decode and draw. A ViTPose+ file holds one expert and
head, those of the dataset named at export (``--dataset coco``).

Each box becomes a crop as mmpose's test pipeline makes it
(``GetBBoxCenterScale(padding=1.25)`` then ``TopdownAffine(use_udp=True)``):

- centre ``(x1 + x2, y1 + y2) / 2``, size ``(x2 - x1, y2 - y1) * 1.25``,
  widened or heightened to the crop's aspect ratio w / h;
- the UDP affine map (``get_udp_warp_matrix``, rotation 0): scale
  ``(w - 1) / box_w`` (x), ``(h - 1) / box_h`` (y), the box centre to the
  crop centre ``((w - 1) / 2, (h - 1) / 2)``, ``cv2.warpAffine`` bilinear,
  border 0; float32 arithmetic as mmpose's, so crops are the same;
- BGR -> RGB, ``(x - mean) / std`` in float32 (the data preprocessor).

Keypoints decoded in crop pixels (:mod:`.decode`) go back to the image as
mmpose's ``TopdownPoseEstimator.add_pred_to_datasample`` does:
``k / (w, h) * box_size + centre - box_size / 2``.
"""
import json
from typing import Optional, Tuple

import cv2
import numpy as np

from .decode import dark_udp_decode, flip_back, heatmap_to_crop
from .session import make_session

#: Metadata key of the runtime JSON.
META_RUNTIME = 'vitpose_mm.runtime'
#: Runtime JSON versions this reader understands.
SPEC_VERSIONS = (1, )


def box_center_scale(boxes: np.ndarray, padding: float,
                     aspect: float) -> Tuple[np.ndarray, np.ndarray]:
    """(N, 4+) xyxy boxes -> (N, 2) centres and (N, 2) padded sizes (w, h)
    at aspect ratio ``aspect`` = w / h, float32, image pixels."""
    xyxy = np.asarray(boxes, np.float32)[:, :4]
    center = (xyxy[:, 2:] + xyxy[:, :2]) * 0.5
    scale = (xyxy[:, 2:] - xyxy[:, :2]) * padding
    w, h = scale[:, :1], scale[:, 1:]
    scale = np.where(w > h * aspect, np.hstack([w, w / aspect]),
                     np.hstack([h * aspect, h]))
    return center, scale.astype(np.float32)


def udp_warp_matrix(center: np.ndarray, scale: np.ndarray,
                    size: Tuple[int, int]) -> np.ndarray:
    """(2, 3) float32 affine map from the image to a (w, h) = ``size`` crop
    of the box (``center``, ``scale``), UDP, no rotation (mmpose's
    ``get_udp_warp_matrix`` with the same float32 steps)."""
    sx = np.float32(size[0] - 1) / scale[0]
    sy = np.float32(size[1] - 1) / scale[1]
    mat = np.zeros((2, 3), np.float32)
    mat[0, 0] = sx
    mat[0, 2] = sx * (-0.5 * (center[0] * 2) + 0.5 * scale[0])
    mat[1, 1] = sy
    mat[1, 2] = sy * (-0.5 * (center[1] * 2) + 0.5 * scale[1])
    return mat


class PoseModel:
    """An exported ViTPose file run by onnxruntime on the CPU.

    Args:
        path (str): The ``.onnx`` file.
        flip_test (bool, optional): Average with the flipped crops; the
            exported config's ``test_cfg.flip_test`` when None.
        batch_size (int, optional): Crops per onnxruntime call; all crops
            of an image at once when None. A file exported with a fixed
            batch runs chunks of that size (the last one zero-padded).
        threads (int): onnxruntime intra-op threads; 0 = its default.

    Attributes:
        spec (dict): The runtime JSON (codec, preprocess, test_cfg, meta).
        input_size (tuple): Crop (w, h) in pixels.
        precision (str): ``'fp32'`` or ``'int8'`` (linear layers).
        meta (dict): Keypoint names, flip indices, skeleton and colours.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file has no ``vitpose_mm.runtime`` metadata
            (not from ``export_onnx``, or from an older version), an
            unknown JSON version, or a decoder other than ViTPose's UDP
            heatmaps.
    """

    def __init__(self, path: str, flip_test: Optional[bool] = None,
                 batch_size: Optional[int] = None, threads: int = 0) -> None:
        self.session = make_session(path, threads)
        props = self.session.get_modelmeta().custom_metadata_map
        if META_RUNTIME not in props:
            raise ValueError(
                f'{path} has no {META_RUNTIME!r} metadata: export it with '
                'python -m vitpose_mm.tools.export_onnx (this version)')
        try:
            spec = json.loads(props[META_RUNTIME])
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: bad {META_RUNTIME} JSON: {err}') \
                from None
        if spec.get('version') not in SPEC_VERSIONS:
            raise ValueError(f'{path}: runtime JSON version '
                             f'{spec.get("version")!r}, this reader knows '
                             f'{list(SPEC_VERSIONS)}')
        if spec['codec']['type'] != 'ViTPoseUDPHeatmap':
            raise ValueError(f'{path}: decoder {spec["codec"]["type"]!r}; '
                             'only ViTPoseUDPHeatmap is supported')
        self.spec = spec
        self.meta = spec['meta']
        self.precision = spec.get('precision', 'fp32')
        self.input_size = tuple(spec['codec']['input_size'])
        self.heatmap_size = tuple(spec['codec']['heatmap_size'])
        pre = spec['preprocess']
        self.mean = np.asarray(pre['mean'], np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(pre['std'], np.float32).reshape(1, 3, 1, 1)
        test_cfg = spec['test_cfg']
        self.flip_test = (test_cfg['flip_test'] if flip_test is None
                          else bool(flip_test))
        if test_cfg.get('flip_mode', 'heatmap') != 'heatmap':
            raise ValueError(f'{path}: flip_mode {test_cfg["flip_mode"]!r};'
                             " only 'heatmap' is supported")
        fixed = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = fixed if isinstance(fixed, int) else None
        if batch_size is not None and batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.batch_size = batch_size

    @property
    def num_keypoints(self) -> int:
        """K."""
        return len(self.meta['flip_indices'])

    # --------------------------------------------------------- crops --
    def crops(self, img: np.ndarray, boxes: np.ndarray
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop and normalise every box.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            boxes (np.ndarray): (N, 4+) x1, y1, x2, y2 in image pixels.

        Returns:
            tuple: ``(crops, centers, scales)``: (N, 3, h, w) float32 model
            inputs, (N, 2) box centres and (N, 2) padded box sizes.
        """
        pre = self.spec['preprocess']
        w, h = self.input_size
        center, scale = box_center_scale(boxes, pre['bbox_padding'], w / h)
        patches = np.stack([
            cv2.warpAffine(img, udp_warp_matrix(c, s, (w, h)), (w, h),
                           flags=cv2.INTER_LINEAR)
            for c, s in zip(center, scale)]) if len(center) else \
            np.zeros((0, h, w, 3), np.uint8)
        if pre.get('bgr_to_rgb'):
            patches = patches[..., ::-1]
        x = patches.transpose(0, 3, 1, 2).astype(np.float32)
        return (x - self.mean) / self.std, center, scale

    # ------------------------------------------------------- network --
    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N, 3, h, w) float32 crops -> (N, K, h/4, w/4) heatmaps."""
        step = self.fixed_batch or self.batch_size or max(len(crops), 1)
        outs = []
        for first in range(0, len(crops), step):
            chunk = np.ascontiguousarray(crops[first:first + step])
            n = len(chunk)
            if self.fixed_batch and n < step:
                chunk = np.concatenate(
                    [chunk, np.zeros((step - n, *chunk.shape[1:]),
                                     np.float32)])
            outs.append(self.session.run(None, {'input': chunk})[0][:n])
        return np.concatenate(outs)

    def predict_crops(self, crops: np.ndarray
                      ) -> Tuple[np.ndarray, np.ndarray]:
        """(N, 3, h, w) crops -> keypoints (N, K, 2) float32 in crop pixels
        and scores (N, K) float32 (flip test per ``self.flip_test``)."""
        maps = self.heatmaps(crops)
        if self.flip_test:
            flipped = self.heatmaps(crops[..., ::-1])
            maps = (maps + flip_back(
                flipped, self.meta['flip_indices'],
                self.spec['test_cfg'].get('shift_heatmap', False))) * 0.5
        kpts, scores = dark_udp_decode(
            maps, self.spec['codec'].get('blur_kernel_size', 11))
        return heatmap_to_crop(kpts, self.heatmap_size,
                               self.input_size), scores

    def __call__(self, img: np.ndarray, boxes: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray]:
        """Keypoints of the people in ``boxes``.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            boxes (np.ndarray): (N, 4+) x1, y1, x2, y2 in image pixels.

        Returns:
            tuple: (N, K, 2) float32 keypoints in image pixels and (N, K)
            float32 scores; empty arrays for N = 0.
        """
        if len(boxes) == 0:
            k = self.num_keypoints
            return (np.zeros((0, k, 2), np.float32),
                    np.zeros((0, k), np.float32))
        crops, center, scale = self.crops(img, boxes)
        kpts, scores = self.predict_crops(crops)
        kpts = (kpts / np.asarray(self.input_size) * scale[:, None]
                + center[:, None] - 0.5 * scale[:, None])
        return kpts.astype(np.float32), scores
