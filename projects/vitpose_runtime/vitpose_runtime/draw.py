"""Boxes and skeletons drawn with OpenCV, in the demo's style.

``vitpose_mm.tools.demo`` draws with mmpose's ``PoseLocalVisualizer``
(radius 3, line width 2, green boxes, the dataset's keypoint and link
colours, keypoints scoring <= ``kpt_thr`` and their links left out). This
draws the same elements with the same colours and sizes; pixels differ
where mmpose blends by score and anti-aliases (matplotlib).
"""
from typing import List

import cv2
import numpy as np

BOX_COLOR = (0, 255, 0)  # BGR green


def _bgr(rgb) -> tuple:
    return (int(rgb[2]), int(rgb[1]), int(rgb[0]))


def render(img: np.ndarray, instances: List[dict], meta: dict,
           kpt_thr: float = 0.3, radius: int = 3,
           line_width: int = 2) -> np.ndarray:
    """Draw ``instances`` (:func:`.estimator.to_instances`) on a copy.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        instances (list[dict]): People in image pixels.
        meta (dict): The pose file's ``meta`` (skeleton, colours).
        kpt_thr (float): Keypoints scoring <= this (and their links) are
            not drawn.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    out = img.copy()
    links = meta.get('skeleton_links') or []
    link_colors = meta.get('skeleton_link_colors') or [[0, 255, 0]] * len(
        links)
    kpt_colors = meta.get('keypoint_colors') or [[255, 0, 0]] * len(
        meta['flip_indices'])
    for inst in instances:
        x1, y1, x2, y2 = (int(round(v)) for v in inst['bbox'])
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOR, line_width)
        kpts = np.asarray(inst['keypoints'])
        vis = np.asarray(inst['keypoint_scores']) > kpt_thr
        for (a, b), color in zip(links, link_colors):
            if vis[a] and vis[b]:
                cv2.line(out, tuple(int(v) for v in kpts[a].round()),
                         tuple(int(v) for v in kpts[b].round()),
                         _bgr(color), line_width, cv2.LINE_AA)
        for i in np.flatnonzero(vis):
            cv2.circle(out, tuple(int(v) for v in kpts[i].round()), radius,
                       _bgr(kpt_colors[i]), -1, cv2.LINE_AA)
    return out
