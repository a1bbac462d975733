"""Person boxes for top-down pose estimation: box files and box checks;
shared by ``vitpose_mm.apis`` / ``vitpose_mm.tools.demo`` and this
runtime's CLI.

All boxes are (N, 5) float32 arrays of ``x1, y1, x2, y2, score`` in image
pixels (xyxy). :func:`load_box_file` reads the two formats of ``--bboxes``:
(a) a JSON object ``{image file name: [[x1, y1, x2, y2(, score)], ...]}``
(per frame for a video) and (b) a COCO detection-results list (xywh boxes,
matched to images named by their COCO id). Warnings go to ``warn`` (one
line each; stderr by default, mmengine's logger in ``vitpose_mm``).
"""
import json
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .inputs import InputError

#: COCO's category id of a person, used to filter format (b).
COCO_PERSON_ID = 1

#: ``warn(message)``: how a one-line warning is reported.
Warn = Callable[[str], None]


def warn_on_stderr(message: str) -> None:
    """The default :data:`Warn`: the message on stderr."""
    print(message, file=sys.stderr)


def as_boxes(rows, where: str) -> np.ndarray:
    """Turn ``[[x1, y1, x2, y2(, score)], ...]`` into an (N, 5) array.

    Args:
        rows: A sequence of 4- or 5-number sequences (image pixels); rows of
            4 get score 1.
        where (str): What the rows are, for error messages.

    Raises:
        InputError: ``rows`` is not a list of 4- or 5-number lists.
    """
    if not isinstance(rows, (list, tuple)):
        raise InputError(f'boxes of {where} must be a list of '
                         f'[x1, y1, x2, y2(, score)], got {rows!r}')
    boxes = np.ones((len(rows), 5), dtype=np.float32)
    for i, row in enumerate(rows):
        try:
            values = np.asarray(row, dtype=np.float32)
        except (TypeError, ValueError):
            values = None
        if values is None or values.ndim != 1 or len(values) not in (4, 5):
            raise InputError(f'box {i} of {where} must be [x1, y1, x2, y2] '
                             f'or [x1, y1, x2, y2, score], got {row!r}')
        boxes[i, :len(values)] = values
    return boxes


def _coco_results_to_boxes(results: list, where: str
                           ) -> Dict[int, np.ndarray]:
    """Group COCO detection results by image id, xywh -> xyxy."""
    by_id: Dict[int, list] = {}
    for i, det in enumerate(results):
        if not isinstance(det, dict) or not {'image_id', 'bbox'} <= set(det):
            raise InputError(f'entry {i} of {where} must be a dict with '
                             f'image_id, bbox (and score), got {det!r}')
        if det.get('category_id', COCO_PERSON_ID) != COCO_PERSON_ID:
            continue
        bbox = det['bbox']
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise InputError(f'entry {i} of {where} must have bbox '
                             f'[x, y, w, h], got {bbox!r}')
        try:
            image_id = int(det['image_id'])
            x, y, w, h = (float(v) for v in bbox)
            score = float(det.get('score', 1.0))
        except (TypeError, ValueError):
            raise InputError(f'entry {i} of {where} must have a numeric '
                             f'image_id, bbox and score, got {det!r}'
                             ) from None
        by_id.setdefault(image_id, []).append([x, y, x + w, y + h, score])
    return {k: as_boxes(v, f'{where}, image id {k}')
            for k, v in by_id.items()}


def load_box_file(path: str, names: Sequence[str], video: bool = False,
                  warn: Warn = warn_on_stderr) -> Dict[str, object]:
    """Read a box file (format (a) or (b) of this module) for some inputs.

    Args:
        path (str): The JSON file.
        names (Sequence[str]): File names of the inputs (no folder).
        video (bool): The inputs are videos: format (a) then maps each name
            to a list of per-frame box lists; format (b) is refused.
        warn (callable): Reports a file none of whose names is an input.

    Returns:
        dict: For each name with boxes in the file, an (N, 5) array of
        ``x1, y1, x2, y2, score`` in pixels, or for a video a list of such
        arrays, one per frame. Names without an entry are left out.

    Raises:
        InputError: The file is missing, not JSON, or not in either format.
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except OSError as err:
        raise InputError(f'cannot read box file {path}: {err.strerror}'
                         ) from None
    except ValueError as err:
        raise InputError(f'box file {path} is not valid JSON: {err}'
                         ) from None
    if isinstance(data, dict):
        if data and not set(data) & set(names):
            warn(f'box file {path}: none of its names (e.g. '
                 f'{next(iter(data))}) is an input file name')
        if video:
            out = {}
            for name in names:
                frames = data.get(name)
                if frames is None:
                    continue
                if not isinstance(frames, list):
                    raise InputError(f'{path}: {name} must map to a list '
                                     'of box lists, one per frame')
                out[name] = [as_boxes(rows, f'{path}: {name} frame {i}')
                             for i, rows in enumerate(frames)]
            return out
        return {name: as_boxes(data[name], f'{path}: {name}')
                for name in names if name in data}
    if isinstance(data, list):
        if video:
            raise InputError(f'box file {path} is a COCO results list, '
                             'which has no frames: give a video its boxes '
                             'as {"name.mp4": [[boxes of frame 0], ...]}')
        by_id = _coco_results_to_boxes(data, f'box file {path}')
        out = {}
        for name in names:
            stem = Path(name).stem
            if stem.isdigit() and int(stem) in by_id:
                out[name] = by_id[int(stem)]
        return out
    raise InputError(f'box file {path} must hold a JSON object '
                     '{image name: boxes} or a COCO results list, got '
                     f'{type(data).__name__}')


def keep_valid_boxes(boxes: np.ndarray, img_shape: Sequence[int],
                     where: str, score_thr: Optional[float] = None,
                     warn: Warn = warn_on_stderr) -> np.ndarray:
    """Drop boxes that cannot be cropped, with a warning naming each.

    A box is dropped when it has zero or negative width or height
    (``x2 <= x1`` or ``y2 <= y1``, inverted boxes included), a non-finite
    value, or no overlap with the image.

    Args:
        boxes (np.ndarray): (N, 5) ``x1, y1, x2, y2, score`` in pixels.
        img_shape (Sequence[int]): (H, W, ...) of the image.
        where (str): The image or frame, for the warnings.
        score_thr (float, optional): First keep only the boxes scoring
            above this, silently (the demos' ``--bbox-thr``); the warnings
            then number the boxes that are left.
        warn (callable): Reports each dropped box.

    Returns:
        np.ndarray: The (M, 5) kept boxes, M <= N, in their order.
    """
    if score_thr is not None:
        boxes = boxes[boxes[:, 4] > score_thr]
    h, w = img_shape[:2]
    keep: List[int] = []
    for i, (x1, y1, x2, y2, _) in enumerate(boxes):
        if not np.isfinite(boxes[i]).all():
            why = 'has a non-finite value'
        elif x2 <= x1 or y2 <= y1:
            why = 'has zero or negative area (need x1 < x2, y1 < y2)'
        elif x2 <= 0 or y2 <= 0 or x1 >= w or y1 >= h:
            why = f'lies outside the {w}x{h} image'
        else:
            keep.append(i)
            continue
        warn(f'{where}: skipped box {i} '
             f'[{x1:g}, {y1:g}, {x2:g}, {y2:g}]: {why}')
    return boxes[keep]
