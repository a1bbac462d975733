"""Associative-embedding (AE) codec of bottom-up ViTPose.

mmpose's :class:`~mmpose.codecs.AssociativeEmbedding` encodes the heatmaps,
the per-instance keypoint position indices (N, K, 2) and the keypoint
weights, but declares no ``label_mapping_table``, so ``PackPoseInputs``
drops ``keypoint_indices`` and the tag loss never sees them (mmpose #2389,
#2933: AE cannot be trained in mmpose 1.x). This subclass changes only
that, and encodes the indices without a Python loop over instances and
keypoints. Decoding (top-k, grouping by tags, refinement, flip test in the
head) is mmpose's, unchanged.
"""
from typing import Optional

import numpy as np
from mmpose.codecs import AssociativeEmbedding
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class ViTPoseAssociativeEmbedding(AssociativeEmbedding):
    """mmpose's AE codec whose ``keypoint_indices`` reach the head.

    ``GenerateTarget`` hands the codec's ``label_mapping_table`` to
    ``PackPoseInputs``, which then packs, per image with N people,

    - ``gt_instance_labels.keypoint_indices``: (N, K, 2) int64, each
      ``[y * W + x, visible]`` in heatmap space (W = heatmap width);
    - ``gt_instance_labels.keypoint_weights``: (N, K).

    The heatmaps (K, H, W) and ``BottomupGetHeatmapMask``'s
    ``heatmap_mask`` are packed into ``gt_fields`` by mmpose's defaults.
    Arguments are those of :class:`~mmpose.codecs.AssociativeEmbedding`.
    """

    label_mapping_table = dict(
        keypoint_weights='keypoint_weights',
        keypoint_indices='keypoint_indices')

    def _encode_keypoint_indices(self, heatmap_size,
                                 keypoints: np.ndarray,
                                 keypoints_visible: np.ndarray
                                 ) -> np.ndarray:
        """(N, K, 2) heatmap-space keypoints -> (N, K, 2) ``[index, vis]``.

        Same rounding as mmpose's loop (``int(x + 0.5)``, truncating
        towards zero); a keypoint is
        visible when ``keypoints_visible > 0.5`` and it lies inside the
        (W, H) heatmap.
        """
        w, h = heatmap_size
        xy = (keypoints[..., :2] + 0.5).astype(np.int64)
        x, y = xy[..., 0], xy[..., 1]
        vis = ((keypoints_visible > 0.5) & (x >= 0) & (x < w) & (y >= 0)
               & (y < h))
        return np.stack([y * w + x, vis.astype(np.int64)], axis=-1)

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """See :meth:`mmpose.codecs.AssociativeEmbedding.encode`.

        Raises:
            ValueError: If ``keypoints`` is not (N, K, 2+) or
                ``keypoints_visible`` is not (N, K).
        """
        if keypoints.ndim != 3 or keypoints.shape[-1] < 2:
            raise ValueError('keypoints must be (N, K, 2), got '
                             f'{keypoints.shape}')
        if (keypoints_visible is not None
                and keypoints_visible.shape != keypoints.shape[:2]):
            raise ValueError(
                f'keypoints_visible {keypoints_visible.shape} does not match '
                f'keypoints {keypoints.shape}')
        return super().encode(keypoints, keypoints_visible)
