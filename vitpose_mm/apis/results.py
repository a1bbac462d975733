"""Pose results as JSON instances and as rendered images.

One instance is a dict with mmpose's field names (those of
:func:`mmpose.structures.split_instances`), all in image pixels:

- ``bbox``: [x1, y1, x2, y2] (xyxy), ``bbox_score``: float;
- ``keypoints``: K x [x, y], ``keypoint_scores``: K floats.
"""
import json
from pathlib import Path
from typing import List

import numpy as np


def to_instances(sample) -> List[dict]:
    """JSON-ready instances of a merged pose sample.

    Args:
        sample (PoseDataSample, optional): From
            :func:`vitpose_mm.apis.estimate_poses`; None for an image
            without people.

    Returns:
        list[dict]: One dict per person (fields in the module docstring),
        plain Python floats; empty for None.
    """
    from mmpose.structures import split_instances

    if sample is None:
        return []
    instances = split_instances(sample.pred_instances)
    for inst in instances:
        # split_instances wraps each bbox in a 1-tuple and keeps numpy
        # scalars; flatten to JSON numbers.
        inst['bbox'] = np.asarray(inst['bbox'], float).reshape(4).tolist()
        inst['bbox_score'] = float(inst['bbox_score'])
    return instances


def write_json(path: Path, obj) -> None:
    """Write ``obj`` (lists / dicts of numbers and strings) as JSON."""
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def make_visualizer(dataset_meta: dict, name: str = 'vitpose_mm_demo'):
    """A :class:`PoseLocalVisualizer` drawing the skeleton of
    ``dataset_meta`` (the pose model's), without storage backends."""
    from mmpose.visualization import PoseLocalVisualizer

    visualizer = PoseLocalVisualizer(name=name, radius=3, line_width=2)
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def render(visualizer, img: np.ndarray, sample=None,
           kpt_thr: float = 0.3) -> np.ndarray:
    """Draw boxes and skeletons on a copy of an image.

    Args:
        visualizer (PoseLocalVisualizer): From :func:`make_visualizer`.
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        sample (PoseDataSample, optional): Merged pose results; None draws
            nothing.
        kpt_thr (float): Keypoints (and their links) scoring at or below
            this are not drawn.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image, the size of ``img``.
    """
    if sample is None:
        return img.copy()
    visualizer.add_datasample(
        'pose', np.ascontiguousarray(img[..., ::-1]), data_sample=sample,
        draw_gt=False, draw_bbox=True, kpt_thr=kpt_thr)
    return np.ascontiguousarray(visualizer.get_image()[..., ::-1])

