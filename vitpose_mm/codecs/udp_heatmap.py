"""UDP heatmaps with the original ViTPose's DARK-UDP decoding, batched.

Targets are mmpose's :class:`~mmpose.codecs.UDPHeatmap` Gaussian targets,
which agree with the original ``TopDownGenerateTarget(encoding='UDP')``
(``tests/codecs/test_udp_heatmap.py`` checks this on the fixtures).

Decoding follows the original ``keypoints_from_heatmaps(use_udp=True)`` and
``post_dark_udp`` (``mmpose/core/evaluation/top_down_eval.py`` of
ViTAE-Transformer/ViTPose), which mmpose 1.x's ``UDPHeatmap.decode`` does
not: mmpose zero-pads each map before the 11x11 Gaussian blur and rescales it
to its old maximum, while the original blurs in place with OpenCV's default
reflect-101 border and no re-normalisation. The steps, all vectorised over
the (B, K) heatmaps of a batch:

1. integer argmax and maxval on the raw heatmaps (first maximum in row-major
   order on ties); maxval <= 0 gives (-1, -1);
2. blur (11x11, sigma 0 -> 2.0, reflect-101), clip to [0.001, 50], log,
   edge-pad by one pixel;
3. one Newton step, x - (H + eps I)^-1 g, with central differences read
   through a flat index into the padded batch, as the original does. For a
   (-1, -1) keypoint some neighbours therefore come from the previous
   heatmap of the batch (the first heatmap wraps to the end): the result for
   such keypoints depends on the batch, exactly as in the original; their
   score is <= 0.
"""
from typing import List, Optional, Tuple, Union

import cv2
import numpy as np
import torch
from mmpose.codecs import UDPHeatmap
from mmpose.registry import KEYPOINT_CODECS


def dark_udp_decode(heatmaps: np.ndarray,
                    blur_kernel_size: int = 11
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Decode (B, K, H, W) heatmaps to refined heatmap-pixel coordinates.

    Args:
        heatmaps (np.ndarray): (B, K, H, W) float heatmaps (not modified).
        blur_kernel_size (int): Odd size of the Gaussian blur kernel (11 for
            sigma-2 targets).

    Returns:
        tuple:
        - keypoints (np.ndarray): (B, K, 2) float32 (x, y) in heatmap pixels.
        - scores (np.ndarray): (B, K) float32 maxima of the raw heatmaps.

    Raises:
        ValueError: If ``heatmaps`` is not 4-D or the kernel size is even.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f'Expected (B, K, H, W) heatmaps, got shape '
                         f'{heatmaps.shape}')
    if blur_kernel_size % 2 != 1:
        raise ValueError(f'blur_kernel_size must be odd, got '
                         f'{blur_kernel_size}')
    B, K, H, W = heatmaps.shape
    heatmaps = np.ascontiguousarray(heatmaps, dtype=np.float32)
    flat = heatmaps.reshape(B * K, H * W)
    index = flat.argmax(axis=1)
    scores = flat[np.arange(B * K), index]
    coords = np.stack([index % W, index // W], axis=-1).astype(np.float32)
    coords[scores <= 0] = -1

    # Blur every map at once: OpenCV filters each channel of an (H, W, C)
    # image independently, with the same reflect-101 border.
    blurred = np.empty_like(flat.reshape(B * K, H, W))
    chans = heatmaps.reshape(B * K, H, W).transpose(1, 2, 0)
    for start in range(0, B * K, 512):  # OpenCV's channel limit (CV_CN_MAX)
        part = cv2.GaussianBlur(
            np.ascontiguousarray(chans[..., start:start + 512]),
            (blur_kernel_size, blur_kernel_size), 0)
        blurred[start:start + 512] = (part.transpose(2, 0, 1)
                                      if part.ndim == 3 else part[None])
    np.clip(blurred, 0.001, 50., out=blurred)
    np.log(blurred, out=blurred)
    padded = np.pad(blurred, ((0, 0), (1, 1), (1, 1)), mode='edge').ravel()

    Wp, Hp = W + 2, H + 2
    i = (coords[:, 0] + 1 + (coords[:, 1] + 1) * Wp
         + Wp * Hp * np.arange(B * K)).astype(np.int64)
    i_ = padded[i]
    ix1, ix1_ = padded[i + 1], padded[i - 1]
    iy1, iy1_ = padded[i + Wp], padded[i - Wp]
    ix1y1, ix1_y1_ = padded[i + Wp + 1], padded[i - Wp - 1]

    grad = np.stack([0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)], axis=-1)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.stack([dxx, dxy, dxy, dyy], axis=-1).reshape(B * K, 2, 2)
    # float32 Hessian + float64 eps * I, inverted in float64 (original).
    inv = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    coords -= np.einsum('imn,in->im', inv, grad)
    return coords.reshape(B, K, 2), scores.reshape(B, K)


@KEYPOINT_CODECS.register_module()
class ViTPoseUDPHeatmap(UDPHeatmap):
    """UDP Gaussian heatmaps decoded exactly as the original ViTPose.

    Encoding is mmpose's ``UDPHeatmap`` (``heatmap_type='gaussian'`` only);
    decoding is :func:`dark_udp_decode`, batched (mmpose's head calls
    :meth:`batch_decode` once per batch).

    Args:
        input_size (tuple): Model input (w, h) in pixels, e.g. (192, 256).
        heatmap_size (tuple): Heatmap (W, H), e.g. (48, 64).
        sigma (float): Gaussian sigma in heatmap pixels (2 in ViTPose).
        blur_kernel_size (int): DARK-UDP blur kernel (11 for sigma 2).

    Decoded keypoints are in input-image pixels: x_in = x_hm * (w - 1) /
    (W - 1) ... expressed as mmpose does, x_hm / (W - 1) * w, which the
    estimator maps to the image with the box (the ``w`` cancels), giving the
    original ``transform_preds(use_udp=True)``.
    """

    def __init__(self,
                 input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 sigma: float = 2.,
                 blur_kernel_size: int = 11) -> None:
        super().__init__(
            input_size=input_size,
            heatmap_size=heatmap_size,
            heatmap_type='gaussian',
            sigma=sigma,
            blur_kernel_size=blur_kernel_size)

    def _to_input_space(self, keypoints: np.ndarray) -> np.ndarray:
        W, H = self.heatmap_size
        return keypoints / np.array([W - 1, H - 1],
                                    dtype=np.float32) * self.input_size

    def decode(self, encoded: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray]:
        """(K, H, W) heatmaps -> ((1, K, 2) keypoints in input pixels,
        (1, K) scores)."""
        keypoints, scores = dark_udp_decode(encoded[None],
                                            self.blur_kernel_size)
        return self._to_input_space(keypoints), scores

    def batch_decode(self, batch_encoded: Union[torch.Tensor, np.ndarray]
                     ) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """(B, K, H, W) heatmaps -> per-sample lists of (1, K, 2) keypoints
        in input pixels and (1, K) scores."""
        if isinstance(batch_encoded, torch.Tensor):
            batch_encoded = batch_encoded.detach().float().cpu().numpy()
        keypoints, scores = dark_udp_decode(batch_encoded,
                                            self.blur_kernel_size)
        keypoints = self._to_input_space(keypoints)
        return list(keypoints[:, None]), list(scores[:, None])
