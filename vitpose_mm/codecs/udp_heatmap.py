"""UDP heatmaps with the original ViTPose's DARK-UDP decoding, batched.

Targets are mmpose's :class:`~mmpose.codecs.UDPHeatmap` Gaussian targets,
which agree with the original ``TopDownGenerateTarget(encoding='UDP')``
(``tests/codecs/test_udp_heatmap.py`` checks this on the fixtures).

Decoding is the original ``keypoints_from_heatmaps(use_udp=True)`` and
``post_dark_udp`` (``mmpose/core/evaluation/top_down_eval.py`` of
ViTAE-Transformer/ViTPose), which mmpose 1.x's ``UDPHeatmap.decode`` does
not match: mmpose zero-pads each map before the 11x11 Gaussian blur and
rescales it to its old maximum, while the original blurs in place with
OpenCV's default reflect-101 border and no re-normalisation. The decode
itself, vectorised over the (B, K) heatmaps of a batch, is numpy and
OpenCV only and lives in the torch-free runtime,
:func:`vitpose_runtime.decode.dark_udp_decode` (its docstring lists the
steps), so the package and ``projects/vitpose_runtime`` decode with one
function; this codec adds mmpose's encoder and the map to input pixels
(:func:`vitpose_runtime.decode.heatmap_to_crop`).
"""
from typing import List, Tuple, Union

import numpy as np
import torch
from mmpose.codecs import UDPHeatmap
from mmpose.registry import KEYPOINT_CODECS
from vitpose_runtime.decode import dark_udp_decode, heatmap_to_crop

__all__ = ['ViTPoseUDPHeatmap', 'dark_udp_decode']


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
        return heatmap_to_crop(keypoints, self.heatmap_size, self.input_size)

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
