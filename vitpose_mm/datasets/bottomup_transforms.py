"""Bottom-up training transforms that mmpose 1.3.2 cannot run here.

mmpose's ``BottomupGetHeatmapMask`` rasterises the segmentation of the
people that must not be penalised (crowds, people without keypoints)
through ``xtcocotools.mask.decode``, which fails under numpy 2
(``AttributeError: module 'numpy' has no attribute 'NPY_OWNDATA'``) on the
first image that has such a person (three of the four tiny COCO images).
:class:`ViTPoseBottomupGetHeatmapMask` is that transform with the mask
rasterised by ``pycocotools`` (a runtime requirement, same RLE API);
everything else (warp, flip, resize to the heatmaps) is mmpose's.
"""
from typing import Sequence, Tuple

import numpy as np
import pycocotools.mask as cocomask
from mmpose.datasets.transforms import BottomupGetHeatmapMask
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ViTPoseBottomupGetHeatmapMask(BottomupGetHeatmapMask):
    """mmpose's ``BottomupGetHeatmapMask`` (same arguments and outputs:
    ``heatmap_mask`` (H, W) bool at the heatmap size, True where the loss
    counts) with the segmentations decoded by pycocotools."""

    def _segs_to_mask(self, segs: Sequence,
                      img_shape: Tuple[int, int]) -> np.ndarray:
        """COCO polygons / RLEs of some people -> (h, w) uint8 union mask."""
        h, w = img_shape
        rles = []
        for seg in segs:
            if isinstance(seg, (tuple, list)) and len(seg):
                rle = cocomask.frPyObjects(list(seg), h, w)
                rles.extend(rle if isinstance(rle, list) else [rle])
            elif isinstance(seg, dict):  # crowd RLE
                rle = cocomask.frPyObjects(seg, h, w)
                rles.append(rle)
        if not rles:
            return np.zeros((h, w), dtype=np.uint8)
        return cocomask.decode(cocomask.merge(rles))
