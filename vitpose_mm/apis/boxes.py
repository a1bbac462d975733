"""Person boxes for top-down pose estimation: box files and box checks.

All boxes are (N, 5) float32 arrays of ``x1, y1, x2, y2, score`` in image
pixels (xyxy). The code is numpy only and is shared with the torch-free
runtime: :mod:`vitpose_runtime.boxes` (the formats of the demo's
``--bboxes``, specified in ``vitpose_mm/tools/demo.py``, are in its
docstring). Here its warnings go to mmengine's logger.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from vitpose_runtime import boxes as _boxes
from vitpose_runtime.boxes import COCO_PERSON_ID, as_boxes

from .inputs import warn

__all__ = ['COCO_PERSON_ID', 'as_boxes', 'keep_valid_boxes', 'load_box_file']


def load_box_file(path: str, names: Sequence[str],
                  video: bool = False) -> Dict[str, object]:
    """:func:`vitpose_runtime.boxes.load_box_file`, warning through
    mmengine's logger.

    Raises:
        InputError: The file is missing, not JSON, or not in either format.
    """
    return _boxes.load_box_file(path, names, video, warn=warn)


def keep_valid_boxes(boxes: np.ndarray, img_shape: Sequence[int], where: str,
                     score_thr: Optional[float] = None) -> np.ndarray:
    """:func:`vitpose_runtime.boxes.keep_valid_boxes` ((N, 5) boxes in
    pixels -> the (M, 5) that can be cropped), warning through mmengine's
    logger."""
    return _boxes.keep_valid_boxes(boxes, img_shape, where, score_thr,
                                   warn=warn)
