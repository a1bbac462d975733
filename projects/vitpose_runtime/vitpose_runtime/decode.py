"""The original ViTPose's DARK-UDP heatmap decoding, in numpy and OpenCV.

Bit for bit the decoder of ``vitpose_mm.codecs.ViTPoseUDPHeatmap`` (the
main suite's ``tests/projects/test_runtime_parity.py`` proves it), which is
the original ``keypoints_from_heatmaps(use_udp=True)`` + ``post_dark_udp``
of ViTAE-Transformer/ViTPose (``mmpose/core/evaluation/top_down_eval.py``):

1. integer argmax of every raw (H, W) map (first maximum in row-major
   order); the score is the raw maximum; a score <= 0 gives (-1, -1);
2. 11x11 Gaussian blur (sigma from the size, OpenCV's reflect-101 border,
   no re-normalisation), clip to [0.001, 50], log, edge-pad by one pixel;
3. one Newton step ``x - (Hess + eps I)^-1 grad`` with central
   differences read through one flat index into the padded batch, as the
   original does (for a (-1, -1) keypoint the neighbours come from the
   previous map of the batch; its score is <= 0 anyway).

The floating-point steps (float32 maps, float64 inverse) are kept in the
original's order: changing one changes the last bits.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np

#: OpenCV filters at most this many channels of one image (CV_CN_MAX).
_CV_MAX_CHANNELS = 512


def _blurred_log_maps(maps: np.ndarray, kernel: int) -> np.ndarray:
    """(N, H, W) float32 -> (N, H + 2, W + 2) log of the blurred, clipped
    maps, edge-padded by one pixel."""
    n, h, w = maps.shape
    out = np.empty((n, h, w), np.float32)
    # All maps as the channels of one image: OpenCV blurs each channel on
    # its own, with the same border, so this equals one call per map.
    channels_last = maps.transpose(1, 2, 0)
    for first in range(0, n, _CV_MAX_CHANNELS):
        last = min(first + _CV_MAX_CHANNELS, n)
        blurred = cv2.GaussianBlur(
            np.ascontiguousarray(channels_last[..., first:last]),
            (kernel, kernel), 0)
        if blurred.ndim == 2:  # OpenCV drops a single channel axis
            blurred = blurred[..., None]
        out[first:last] = blurred.transpose(2, 0, 1)
    np.clip(out, 0.001, 50., out=out)
    np.log(out, out=out)
    return np.pad(out, ((0, 0), (1, 1), (1, 1)), mode='edge')


def dark_udp_decode(heatmaps: np.ndarray, blur_kernel_size: int = 11
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Refined peak positions of (B, K, H, W) heatmaps.

    Args:
        heatmaps (np.ndarray): (B, K, H, W) heatmaps (any float dtype; read
            as float32, not modified).
        blur_kernel_size (int): Odd blur size (11 for ViTPose's sigma 2).

    Returns:
        tuple: ``(keypoints, scores)``: (B, K, 2) float32 (x, y) in
        heatmap pixels and (B, K) float32 raw maxima.

    Raises:
        ValueError: If ``heatmaps`` is not 4-D or the kernel size is even.
    """
    maps = np.asarray(heatmaps)
    if maps.ndim != 4:
        raise ValueError(f'heatmaps must be (B, K, H, W), got shape '
                         f'{maps.shape}')
    if blur_kernel_size % 2 == 0:
        raise ValueError(f'blur_kernel_size must be odd, got '
                         f'{blur_kernel_size}')
    b, k, h, w = maps.shape
    n = b * k
    maps = np.ascontiguousarray(maps, dtype=np.float32).reshape(n, h, w)
    peak = maps.reshape(n, h * w).argmax(axis=1)
    scores = maps.reshape(n, h * w)[np.arange(n), peak]
    xy = np.stack([peak % w, peak // w], axis=1).astype(np.float32)
    xy[scores <= 0] = -1

    logs = _blurred_log_maps(maps, blur_kernel_size).ravel()
    row = w + 2
    at = (xy[:, 0] + 1 + (xy[:, 1] + 1) * row
          + row * (h + 2) * np.arange(n)).astype(np.int64)
    centre = logs[at]
    right, left = logs[at + 1], logs[at - 1]
    down, up = logs[at + row], logs[at - row]
    down_right, up_left = logs[at + row + 1], logs[at - row - 1]

    grad = np.stack([0.5 * (right - left), 0.5 * (down - up)], axis=-1)
    dxx = right - 2 * centre + left
    dyy = down - 2 * centre + up
    dxy = 0.5 * (down_right - right - down + centre + centre - left - up
                 + up_left)
    hess = np.stack([dxx, dxy, dxy, dyy], axis=-1).reshape(n, 2, 2)
    step = np.einsum('imn,in->im',
                     np.linalg.inv(hess + np.finfo(np.float32).eps
                                   * np.eye(2)), grad)
    xy -= step
    return xy.reshape(b, k, 2), scores.reshape(b, k)


def flip_back(heatmaps: np.ndarray, flip_indices: Sequence[int],
              shift: bool = False) -> np.ndarray:
    """Heatmaps of horizontally flipped crops, flipped back: mirror the
    width axis and swap left / right keypoints (mmpose's
    ``flip_heatmaps(flip_mode='heatmap')``).

    Args:
        heatmaps (np.ndarray): (B, K, H, W).
        flip_indices (Sequence[int]): K indices: keypoint i of the flipped
            image is keypoint ``flip_indices[i]`` of the original.
        shift (bool): Shift the result one pixel right (``shift_heatmap``;
            False for UDP).

    Returns:
        np.ndarray: (B, K, H, W), a new array.

    Raises:
        ValueError: If ``flip_indices`` does not have K entries.
    """
    if len(flip_indices) != heatmaps.shape[1]:
        raise ValueError(f'{len(flip_indices)} flip indices for '
                         f'{heatmaps.shape[1]} heatmaps')
    out = heatmaps[:, list(flip_indices), :, ::-1].copy()
    if shift:
        out[..., 1:] = out[..., :-1].copy()
    return out


def heatmap_to_crop(keypoints: np.ndarray, heatmap_size: Sequence[int],
                    input_size: Sequence[int]) -> np.ndarray:
    """UDP: heatmap pixels -> crop (model input) pixels,
    ``x / (W - 1) * w`` (mmpose's convention; the box mapping divides by
    ``w`` again, giving the original ``x * (w_box) / (W - 1)``).

    Args:
        keypoints (np.ndarray): (..., 2) in heatmap pixels.
        heatmap_size (Sequence[int]): (W, H).
        input_size (Sequence[int]): Crop (w, h).
    """
    last = np.array([heatmap_size[0] - 1, heatmap_size[1] - 1], np.float32)
    return keypoints / last * np.asarray(input_size)
