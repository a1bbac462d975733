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

from vitpose_mm.engine.atomic_files import write_atomically


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
    """Write ``obj`` (lists / dicts of numbers and strings) as JSON,
    atomically (:func:`vitpose_mm.engine.atomic_files.write_atomically`),
    so a reader (or a killed run) never sees a half-written file."""
    write_atomically(path, json.dumps(obj))


class JsonLinesWriter:
    """Append one JSON value per line to ``path``, flushed at each line, so
    an interrupted run keeps every line written before it (JSON Lines)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, 'w', encoding='utf-8')

    def write(self, obj) -> None:
        """Append ``obj`` as one line and flush it to the OS."""
        self._file.write(json.dumps(obj) + '\n')
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def make_visualizer(dataset_meta: dict,
                    name: str = 'vitpose_mm_demo',
                    radius: int = 3,
                    line_width: int = 2,
                    alpha: float = 0.8,
                    skeleton_style: str = 'mmpose'):
    """A :class:`PoseLocalVisualizer` drawing the skeleton of
    ``dataset_meta`` (the pose model's), without storage backends.

    Args:
        radius (int): Keypoint radius in pixels (mmpose's demo: 3).
        line_width (int): Link and box thickness in pixels (mmpose's: 1).
        alpha (float): Opacity of the boxes (mmpose's demo: 0.8).
        skeleton_style (str): ``'mmpose'`` or ``'openpose'``; pass the same
            to :func:`render`.
    """
    from mmpose.visualization import PoseLocalVisualizer

    visualizer = PoseLocalVisualizer(
        name=name, radius=radius, line_width=line_width, alpha=alpha)
    visualizer.set_dataset_meta(dataset_meta, skeleton_style=skeleton_style)
    return visualizer


def render(visualizer, img: np.ndarray, sample=None,
           kpt_thr: float = 0.3, draw_bbox: bool = True,
           show_kpt_idx: bool = False, skeleton_style: str = 'mmpose',
           draw_heatmap: bool = False) -> np.ndarray:
    """Draw skeletons (and boxes, keypoint indices, heatmaps) on a copy of
    an image, with mmpose's :class:`PoseLocalVisualizer`.

    Args:
        visualizer (PoseLocalVisualizer): From :func:`make_visualizer`.
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        sample (PoseDataSample, optional): Merged pose results; None draws
            nothing.
        kpt_thr (float): Keypoints (and their links) scoring at or below
            this are not drawn.
        draw_bbox (bool): Draw the person boxes.
        show_kpt_idx (bool): Write each keypoint's index beside it.
        skeleton_style (str): ``'mmpose'`` or ``'openpose'`` (COCO's 17
            keypoints only, as in mmpose); the visualizer's, from
            :func:`make_visualizer`.
        draw_heatmap (bool): Stack the summed heatmaps (``sample``'s
            ``pred_fields.heatmaps``) under the image.

    A sample whose ``pred_instances`` hold ``track_ids`` (from
    :meth:`vitpose_mm.apis.PoseTracker.to_sample`) gets each person's id
    written at their box in the track's colour
    (:func:`vitpose_runtime.draw.track_color`: one colour per id on every
    frame), and with ``draw_bbox`` their box in that colour.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image, the size of ``img``; (2H, W,
        3) with ``draw_heatmap``.
    """
    if sample is None:
        img = img.copy()
        return np.concatenate([img, np.zeros_like(img)]) if draw_heatmap \
            else img
    from vitpose_runtime.draw import draw_track_ids

    ids = sample.pred_instances.get('track_ids')
    visualizer.add_datasample(
        'pose', np.ascontiguousarray(img[..., ::-1]), data_sample=sample,
        draw_gt=False, draw_bbox=draw_bbox and ids is None,
        draw_heatmap=draw_heatmap, show_kpt_idx=show_kpt_idx,
        skeleton_style=skeleton_style, kpt_thr=kpt_thr)
    out = np.ascontiguousarray(visualizer.get_image()[..., ::-1])
    if ids is not None:  # boxes in the tracks' colours, and the ids
        draw_track_ids(out, sample.pred_instances.bboxes, ids,
                       draw_box=draw_bbox)
    return out

