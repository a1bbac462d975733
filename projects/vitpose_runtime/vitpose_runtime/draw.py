"""Boxes, skeletons and track ids drawn with OpenCV, in the demo's style.

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
#: The golden ratio's fraction: successive track ids get hues this far
#: apart on the colour wheel, so neighbouring ids never look alike.
_GOLDEN = 0.6180339887498949


def track_color(track_id: int) -> tuple:
    """The BGR colour of a track: the same for one id on every frame,
    saturated and bright, hues spread by the golden ratio."""
    hue = int(((track_id * _GOLDEN) % 1.0) * 180)  # OpenCV hue: 0-179
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_track_ids(img: np.ndarray, boxes, track_ids,
                   line_width: int = 2, draw_box: bool = False
                   ) -> np.ndarray:
    """Write each person's track id at the top-left corner of their box
    (white on the track's colour), in place.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image, changed in place.
        boxes: (N, 4+) ``x1, y1, x2, y2`` in pixels.
        track_ids: (N,) ints >= 0 (negative ids are not drawn).
        draw_box (bool): Also outline each box in its track's colour.

    Returns:
        np.ndarray: ``img``.
    """
    h, w = img.shape[:2]
    scale = max(0.4, min(h, w) / 900)
    for box, tid in zip(boxes, track_ids):
        if tid < 0:
            continue
        color = track_color(int(tid))
        x1, y1, x2, y2 = (int(round(float(v))) for v in box[:4])
        if draw_box:
            cv2.rectangle(img, (x1, y1), (x2, y2), color, line_width)
        text = f'id {int(tid)}'
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX,
                                         scale, 1)
        x = min(max(x1, 0), max(w - tw - 4, 0))
        y = min(max(y1, th + base + 4), h - 1)
        cv2.rectangle(img, (x, y - th - base - 4), (x + tw + 4, y), color,
                      -1)
        cv2.putText(img, text, (x + 2, y - base - 2),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return img


def _bgr(rgb) -> tuple:
    return (int(rgb[2]), int(rgb[1]), int(rgb[0]))


def render(img: np.ndarray, instances: List[dict], meta: dict,
           kpt_thr: float = 0.3, radius: int = 3,
           line_width: int = 2) -> np.ndarray:
    """Draw ``instances`` (:func:`.estimator.to_instances`) on a copy; a
    person with a ``track_id`` gets their box in the track's colour and
    the id written on it (:func:`draw_track_ids`).

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
    tracked = [inst for inst in instances if 'track_id' in inst]
    links = meta.get('skeleton_links') or []
    link_colors = meta.get('skeleton_link_colors') or [[0, 255, 0]] * len(
        links)
    kpt_colors = meta.get('keypoint_colors') or [[255, 0, 0]] * len(
        meta['flip_indices'])
    for inst in instances:
        x1, y1, x2, y2 = (int(round(v)) for v in inst['bbox'])
        color = (track_color(inst['track_id']) if 'track_id' in inst
                 else BOX_COLOR)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, line_width)
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
    if tracked:
        draw_track_ids(out, [i['bbox'] for i in tracked],
                       [i['track_id'] for i in tracked], line_width)
    return out
