"""Video pose estimation with identities: person tracking, a detector
interval and keypoint smoothing, frame by frame (numpy only).

:class:`PoseTracker` turns a person detector and a top-down pose model,
given as two callables, into ``tracker(frame) -> TrackedFrame``: every
person gets a ``track_id`` (int >= 0) that stays theirs while they are
visible or hidden for up to ``track_seconds``, and is never given to
anyone else. ``vitpose_mm.apis.PoseTracker`` (torch models) and
``vitpose_runtime.Estimator.tracker`` (ONNX models) bind the callables;
``vitpose_mm.tools.demo`` and the ``vitpose-runtime`` CLI use them.

Methods (``method=``):

- ``'pose'`` (the default): ByteTrack's two-stage association (Zhang et
  al., ECCV 2022: high-score boxes first, then the detector's low-score
  boxes for the tracks left over) with each track's box predicted by the
  ``trackers`` library's ByteTrack Kalman filter (``ByteTrackTracklet``,
  constant velocity, ByteTrack's noise), plus what the pose model gives:

  * tracks seen on the last frame are matched first, hidden ones then
    (DeepSORT's matching cascade, Wojke et al., ICIP 2017);
  * boxes cut by an occluder are completed to the person's typical size
    for the motion model and for association (:func:`complete_box`,
    :func:`track_iou`);
  * the similarity of a track and a person is ``iou_weight`` x box IoU +
    (1 - ``iou_weight``) x OKS (COCO's object keypoint similarity) of
    their keypoints, the track's moved by the predicted motion; crossing
    people whose boxes overlap keep apart by their poses;
  * pose-confirmed boxes: a track that no detection matches (a person the
    detector misses, e.g. half hidden) is looked for at its predicted box;
    the pose model's keypoints there continue the track when their mean
    score is >= ``conf_thr`` and they are not another person's (OKS with
    every person already found this frame <= ``dup_oks``);
  * a low-score box continues a track only when the pose in it passes the
    same test;
  * ``det_interval`` N > 1: the detector runs on frame 0 and every N-th
    frame, and again on any frame where a tracked person is lost (no
    confident pose at their predicted place, or two tracks on one
    person); on the frames between, each person's box is the box of their
    previous keypoints (``keypoint_boxes``: padded by 1.25 as mmpose pads
    top-down boxes), moved by the Kalman filter's motion, as rtmlib's
    ``PoseTracker(det_frequency=N)`` and the original ViTPose video demos
    do.

- ``'bytetrack'``: the ``trackers`` library's ``ByteTrackTracker`` as it
  is (boxes only: the detector's high- and low-score boxes), the pose
  model on the boxes it reports. It reports a person once their track is
  confirmed (two frames), as ByteTrack does.
- ``'none'``: no identities (the detector's people, as without tracking).

Without the ``trackers`` library (``pip install vitpose-runtime[tracking]``
adds it with scipy), ``'pose'`` still runs: a track's box is then predicted
to stay where it was last seen (no velocity), and the assignment is
greedy (best similarity first) instead of scipy's optimal one; the
benchmark (``benchmarks/video_tracking.py``) measures both. ``'bytetrack'``
then raises an ImportError naming the package.

Smoothing (``smooth=True``): each track's keypoints go through a One-Euro
filter (:mod:`.smoothing`) before they are reported; the filter starts
anew when the track starts and when it comes back after being hidden.
The tracker itself keeps the raw keypoints.
"""
import dataclasses
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from .smoothing import BETA, MIN_CUTOFF, OneEuroFilter

#: COCO's per-keypoint OKS sigmas (cocoapi / mmpose's coco.py), for K = 17.
COCO_SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062,
    0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089
])
#: Sigma of every keypoint of a skeleton without its own (the mean of
#: COCO's).
DEFAULT_SIGMA = float(COCO_SIGMAS.mean())
#: Box padding of mmpose's top-down pipeline (``GetBBoxCenterScale``).
PADDING = 1.25
#: A box narrower (lower) than this fraction of the person's typical
#: width (height) is taken as cut by an occluder (:func:`complete_box`).
SEEN_WHOLE = 0.85
#: Rate of the typical box size's running mean.
SIZE_RATE = 0.3
#: Names of ``method``.
METHODS = ('pose', 'bytetrack', 'none')

#: ``detect(frame) -> (people, rest)``: (N, 5) boxes ``x1, y1, x2, y2,
#: score`` (image pixels) the demo keeps (score > bbox_thr, after NMS) and
#: (M, 5) other boxes of lower score (ByteTrack's low-score boxes).
Detect = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]
#: ``estimate(frame, boxes (N, 4+)) -> (keypoints (N, K, 2), scores (N,
#: K))`` in image pixels; N may be 0.
Estimate = Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]


def sigmas_for(num_keypoints: int, sigmas: Optional[Sequence[float]] = None
               ) -> np.ndarray:
    """OKS sigmas of a K-keypoint skeleton: ``sigmas`` when given (e.g. an
    mmpose dataset_meta's), COCO's for K = 17, else :data:`DEFAULT_SIGMA`.

    Raises:
        ValueError: ``sigmas`` given with another length than K.
    """
    if sigmas is not None and len(sigmas):
        sigmas = np.asarray(sigmas, np.float64).reshape(-1)
        if len(sigmas) != num_keypoints:
            raise ValueError(f'{len(sigmas)} OKS sigmas for '
                             f'{num_keypoints} keypoints')
        return sigmas
    if num_keypoints == len(COCO_SIGMAS):
        return COCO_SIGMAS
    return np.full(num_keypoints, DEFAULT_SIGMA)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4+) and (M, 4+) ``x1, y1, x2, y2`` boxes."""
    a = np.asarray(a, np.float64)[:, None, :4]
    b = np.asarray(b, np.float64)[None, :, :4]
    wh = np.clip(np.minimum(a[..., 2:], b[..., 2:])
                 - np.maximum(a[..., :2], b[..., :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def oks(kpts_a: np.ndarray, scores_a: np.ndarray, kpts_b: np.ndarray,
        scores_b: np.ndarray, sigmas: np.ndarray, kpt_thr: float = 0.3
        ) -> np.ndarray:
    """(N, M) object keypoint similarity of two sets of poses.

    COCO's OKS, ``mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))`` over the
    keypoints scoring > ``kpt_thr`` in both poses, with ``s^2`` the mean
    area of the two poses' keypoint boxes (mmpose's ``oks_iou`` takes
    the two areas' mean too); 0 where no keypoint is confident in both.

    Args:
        kpts_a (np.ndarray): (N, K, 2) keypoints, pixels.
        scores_a (np.ndarray): (N, K) their scores.
        kpts_b, scores_b: (M, K, 2) and (M, K).
        sigmas (np.ndarray): (K,) per-keypoint sigmas (:func:`sigmas_for`).
        kpt_thr (float): Keypoints scoring <= this are left out.
    """
    ka = np.asarray(kpts_a, np.float64)[:, None]
    kb = np.asarray(kpts_b, np.float64)[None]
    d2 = ((ka - kb) ** 2).sum(-1)  # (N, M, K)
    area_a = _areas(keypoint_boxes(kpts_a, scores_a, kpt_thr, 1.0))
    area_b = _areas(keypoint_boxes(kpts_b, scores_b, kpt_thr, 1.0))
    area = np.maximum((area_a[:, None] + area_b[None]) / 2, 1.0)
    var = (2 * np.asarray(sigmas, np.float64)) ** 2
    e = np.exp(-d2 / (2 * area[..., None] * var))
    both = ((np.asarray(scores_a)[:, None] > kpt_thr)
            & (np.asarray(scores_b)[None] > kpt_thr))
    count = both.sum(-1)
    return np.where(count > 0, (e * both).sum(-1) / np.maximum(count, 1), 0.)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def keypoint_boxes(keypoints: np.ndarray, scores: np.ndarray,
                   kpt_thr: float = 0.3, padding: float = PADDING
                   ) -> np.ndarray:
    """Boxes around people's keypoints, as a detector would box them.

    The box of the keypoints scoring > ``kpt_thr`` (all keypoints when
    fewer than two do), scaled about its centre by ``padding``: 1.25, the
    factor of mmpose's ``bbox_xyxy2cs``, makes it agree best with COCO's
    person boxes (mean IoU 0.83 on the 12 people of the shared tiny COCO
    set with >= 12 labelled keypoints; 1.0: 0.64, 1.3: 0.82).

    Args:
        keypoints (np.ndarray): (N, K, 2), pixels.
        scores (np.ndarray): (N, K).

    Returns:
        np.ndarray: (N, 4) float64 ``x1, y1, x2, y2``, at least 1 pixel
        wide and high.
    """
    kpts = np.asarray(keypoints, np.float64).reshape(len(keypoints), -1, 2)
    ok = np.asarray(scores).reshape(len(kpts), -1) > kpt_thr
    ok[ok.sum(1) < 2] = True
    lo = np.where(ok[..., None], kpts, np.inf).min(1)
    hi = np.where(ok[..., None], kpts, -np.inf).max(1)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) * padding / 2, 0.5)
    return np.concatenate([centre - half, centre + half], 1).reshape(-1, 4)


def complete_box(box: np.ndarray, predicted: np.ndarray, size: np.ndarray
                 ) -> np.ndarray:
    """A person's box cut by an occluder or the frame edge, completed.

    Along each axis where ``box`` is shorter than ``SEEN_WHOLE`` x the
    person's typical ``size``, the edge nearer its predicted place is
    taken as seen and the other is moved to make the typical length:
    a person walking behind a pillar keeps the box (and the motion) of
    the whole person.

    Args:
        box (np.ndarray): (4,) observed ``x1, y1, x2, y2``, pixels.
        predicted (np.ndarray): (4,) the person's predicted box.
        size (np.ndarray): (2,) their typical (w, h).

    Returns:
        np.ndarray: (4,) float64 box; ``box`` itself where it is whole.
    """
    out = np.asarray(box[:4], np.float64).copy()
    for lo, hi, length in ((0, 2, size[0]), (1, 3, size[1])):
        if out[hi] - out[lo] >= SEEN_WHOLE * length:
            continue
        if abs(out[lo] - predicted[lo]) <= abs(out[hi] - predicted[hi]):
            out[hi] = out[lo] + length
        else:
            out[lo] = out[hi] - length
    return out


def assign(similarity: np.ndarray, threshold: float
           ) -> List[Tuple[int, int]]:
    """Pairs (row, column) of a one-to-one assignment maximising the total
    similarity, each pair's similarity >= ``threshold``.

    scipy's ``linear_sum_assignment`` (optimal) where scipy is installed,
    else greedy: the most similar pair first (mmpose's and PoseFlow's
    matchers).
    """
    if similarity.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        pairs, sim = [], similarity.astype(np.float64).copy()
        while True:
            r, c = np.unravel_index(np.argmax(sim), sim.shape)
            if not sim[r, c] >= threshold:
                return pairs
            pairs.append((int(r), int(c)))
            sim[r, :], sim[:, c] = -np.inf, -np.inf
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols)
            if similarity[r, c] >= threshold]


def track_iou(box: np.ndarray, predicted: np.ndarray, size: np.ndarray
              ) -> float:
    """IoU of a person's predicted box and a detection, for association.

    A detection cut by an occluder is completed first
    (:func:`complete_box`), and its IoU is then scaled by the square root
    of the fraction of the typical box it covers: a sliver of a person
    emerging from behind a pillar still matches their track, but a cut
    box never looks better than a whole one (when two people cross, the
    front one's sliver beside them must not take their track).

    Args:
        box (np.ndarray): (4+,) the detection, pixels.
        predicted (np.ndarray): (4,) the track's predicted box.
        size (np.ndarray): (2,) the track's typical (w, h).
    """
    whole = complete_box(box, predicted, size)
    iou = box_iou(predicted[None], whole[None])[0, 0]
    wh = np.asarray(box[2:4], np.float64) - box[:2]
    return float(iou * min(1.0, np.sqrt(max(wh.prod(), 0.) / size.prod())))


def _motion_model(box: np.ndarray):
    """The box's Kalman filter from the ``trackers`` library
    (ByteTrack's tracklet), or :class:`_StillBox` without it."""
    try:
        from trackers.core.bytetrack.tracklet import ByteTrackTracklet
    except ImportError:
        return _StillBox(box)
    return ByteTrackTracklet(np.asarray(box[:4], np.float64))


class _StillBox:
    """The motion model without ``trackers``: the box stays where it was
    last seen (the interface of ``trackers``' tracklets)."""

    def __init__(self, box: np.ndarray) -> None:
        self.box = np.asarray(box[:4], np.float64)

    def predict(self) -> np.ndarray:
        return self.box

    def update(self, box: np.ndarray) -> None:
        self.box = np.asarray(box[:4], np.float64)

    def get_state_bbox(self) -> np.ndarray:
        return self.box


@dataclasses.dataclass
class _Track:
    track_id: int
    motion: object
    keypoints: np.ndarray  # (K, 2) last seen, raw
    scores: np.ndarray  # (K,)
    kbox: np.ndarray  # (4,) keypoint box at the last sighting
    centre: np.ndarray  # (2,) motion-model centre at the last sighting
    last_seen: int
    size: np.ndarray  # (2,) typical box (w, h) of the whole person

    def predicted_centre(self) -> np.ndarray:
        box = self.motion.get_state_bbox()
        return (box[:2] + box[2:]) / 2

    def shift(self) -> np.ndarray:
        """(2,) predicted motion since the last sighting, pixels."""
        return self.predicted_centre() - self.centre

    def predicted_box(self) -> np.ndarray:
        """(4,) the typical box at the predicted centre."""
        centre = self.predicted_centre()
        return np.concatenate([centre - self.size / 2,
                               centre + self.size / 2])

    def observe(self, box: np.ndarray) -> None:
        """Feed a sighting's box to the motion model, completed to the
        person's typical size where an occluder (or a frame edge) cuts it
        (:func:`complete_box`): cut boxes would teach the filter a wrong
        motion, and extrapolating their corners gives degenerate boxes.
        Only whole boxes update the typical size."""
        box = np.asarray(box[:4], np.float64)
        whole = complete_box(box, self.predicted_box(), self.size)
        self.motion.update(whole)
        if (whole == box).all():
            wh = box[2:] - box[:2]
            self.size = (1 - SIZE_RATE) * self.size + SIZE_RATE * wh


@dataclasses.dataclass
class TrackedFrame:
    """The people of one frame.

    Attributes:
        index (int): Frame number, from 0.
        boxes (np.ndarray): (N, 5) ``x1, y1, x2, y2, score``, image pixels:
            a detector box and its score, or (pose-confirmed, between
            detections) the box of the person's keypoints
            (:func:`keypoint_boxes`) and their mean keypoint score.
        keypoints (np.ndarray): (N, K, 2) image pixels (smoothed with
            ``smooth``).
        keypoint_scores (np.ndarray): (N, K).
        track_ids (np.ndarray): (N,) int64 >= 0; -1 with method 'none'.
        detector (bool): Whether the detector ran on this frame.
    """

    index: int
    boxes: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    track_ids: np.ndarray
    detector: bool

    def __len__(self) -> int:
        return len(self.boxes)

    def instances(self) -> List[dict]:
        """JSON-ready people (the demo's fields: ``bbox``, ``bbox_score``,
        ``keypoints``, ``keypoint_scores``, plus ``track_id`` unless the
        method is 'none'), plain Python numbers."""
        out = []
        for i, box in enumerate(self.boxes):
            inst = dict(bbox=[float(v) for v in box[:4]],
                        bbox_score=float(box[4]),
                        keypoints=self.keypoints[i].astype(float).tolist(),
                        keypoint_scores=self.keypoint_scores[i].astype(
                            float).tolist())
            if self.track_ids[i] >= 0:
                inst['track_id'] = int(self.track_ids[i])
            out.append(inst)
        return out


class PoseTracker:
    """``PoseTracker(detect, estimate)(frame) -> TrackedFrame``: people
    with identities, frame by frame (module docstring).

    Args:
        detect (Detect, optional): The person detector (module type
            :data:`Detect`); None when every call passes ``boxes``.
        estimate (Estimate, optional): The top-down pose model (module type
            :data:`Estimate`); None when every call passes ``poses``
            (bottom-up models): no pose-confirmed boxes then, and
            ``det_interval`` must be 1.
        method (str): 'pose', 'bytetrack' or 'none' (module docstring).
        det_interval (int): Run the detector every N-th frame (>= 1;
            > 1 needs method 'pose').
        fps (float): Frames per second of the video (> 0): converts
            ``track_seconds`` to frames and times the smoothing.
        track_seconds (float): How long a hidden person keeps their track,
            seconds (>= 1 / fps; at least one frame).
        num_keypoints (int, optional): K, for empty results before any pose
            was seen (default 17).
        sigmas (Sequence[float], optional): OKS sigmas
            (:func:`sigmas_for`).
        smooth (bool): One-Euro filter the reported keypoints (needs a
            method other than 'none').
        min_cutoff (float): One-Euro cutoff at rest, Hz.
        beta (float): One-Euro speed coefficient, 1 / pixel.
        kpt_thr (float): Keypoints scoring <= this are left out of OKS and
            keypoint boxes.
        conf_thr (float): Mean keypoint score a pose needs to continue a
            track without a high-score detection.
        dup_oks (float): OKS above which two poses are one person.
        match_thr (float): Least similarity of a track and a person.
        iou_weight (float): Weight of box IoU against OKS in the
            similarity, in [0, 1].
        confirm_frames (int): For how many frames after its last sighting
            a track is looked for at its predicted box.

    Raises:
        ValueError: An unknown method or an out-of-range value (the message
            names it).
        ImportError: method 'bytetrack' without the ``trackers`` package.
    """

    def __init__(self, detect: Optional[Detect], estimate: Optional[Estimate],
                 method: str = 'pose', det_interval: int = 1,
                 fps: float = 30., track_seconds: float = 1.0,
                 num_keypoints: Optional[int] = None,
                 sigmas: Optional[Sequence[float]] = None,
                 smooth: bool = False, min_cutoff: float = MIN_CUTOFF,
                 beta: float = BETA, kpt_thr: float = 0.3,
                 conf_thr: float = 0.3, dup_oks: float = 0.5,
                 match_thr: float = 0.1, iou_weight: float = 0.5,
                 confirm_frames: int = 3) -> None:
        if method not in METHODS:
            raise ValueError(f'tracker {method!r}: choose from '
                             f'{list(METHODS)}')
        if int(det_interval) != det_interval or det_interval < 1:
            raise ValueError(f'det_interval must be an int >= 1, got '
                             f'{det_interval}')
        if det_interval > 1 and (method != 'pose' or estimate is None):
            raise ValueError(f'det_interval {det_interval} needs the pose '
                             "tracker (method 'pose') and a top-down pose "
                             'model')
        if not (isinstance(fps, (int, float)) and math.isfinite(fps)
                and fps > 0):
            raise ValueError(f'fps must be a finite number > 0, got {fps}')
        if not track_seconds > 0:
            raise ValueError(f'track_seconds must be > 0, got '
                             f'{track_seconds}')
        if smooth and method == 'none':
            raise ValueError("smoothing follows tracks: it needs a tracker "
                             "(method 'pose' or 'bytetrack'), not 'none'")
        if not 0 <= iou_weight <= 1:
            raise ValueError(f'iou_weight must be in [0, 1], got '
                             f'{iou_weight}')
        self.detect, self.estimate = detect, estimate
        self.method, self.det_interval = method, int(det_interval)
        self.fps = float(fps)
        self.max_lost = max(1, int(round(track_seconds * fps)))
        self.num_keypoints = num_keypoints or 17
        self._sigmas = sigmas
        self.smooth = smooth
        if smooth:
            OneEuroFilter(min_cutoff, beta)  # checks the two values
        self.min_cutoff, self.beta = min_cutoff, beta
        self.kpt_thr, self.conf_thr, self.dup_oks = kpt_thr, conf_thr, dup_oks
        self.match_thr, self.iou_weight = match_thr, iou_weight
        self.confirm_frames = confirm_frames
        self._bytetrack = None
        if method == 'bytetrack':
            self._bytetrack = self._make_bytetrack(track_seconds)
        self.reset()

    # ----------------------------------------------------------- state --
    def reset(self) -> None:
        """Start a new video: no tracks, ids from 0, frame 0 next."""
        self.tracks: List[_Track] = []
        self.frame_index = 0
        self.next_id = 0
        self._since_detection = None
        self._filters = {}  # track id -> (OneEuroFilter, last frame)
        if self._bytetrack is not None:
            self._bytetrack.reset()

    def _make_bytetrack(self, track_seconds: float):
        try:
            from trackers import ByteTrackTracker
        except ImportError as err:
            raise ImportError(
                "tracker 'bytetrack' needs the trackers package (pip "
                "install 'vitpose-runtime[tracking]' or trackers==2.6.1): "
                f'{err}') from None
        # the library counts its buffer in frames at 30 fps
        return ByteTrackTracker(lost_track_buffer=max(1, round(
            track_seconds * 30)), frame_rate=self.fps)

    @property
    def sigmas(self) -> np.ndarray:
        return sigmas_for(self.num_keypoints, self._sigmas)

    # ------------------------------------------------------------ call --
    def __call__(self, frame: np.ndarray, boxes: Optional[np.ndarray] = None,
                 poses: Optional[Tuple[np.ndarray, np.ndarray]] = None
                 ) -> TrackedFrame:
        """The people of the next frame of the video.

        Args:
            frame (np.ndarray): (H, W, 3) uint8 BGR image.
            boxes (np.ndarray, optional): (N, 5) person boxes to use instead
                of the detector on this frame: they are all the people
                (no pose-confirmed ones are added).
            poses (tuple, optional): ``(keypoints (N, K, 2), scores (N,
                K))`` of ``boxes``, for models that find people themselves
                (bottom-up); the pose model is not called then.

        Returns:
            TrackedFrame: This frame's people, by track id (method 'none':
            in the detector's order).
        """
        index = self.frame_index
        self.frame_index += 1
        due = (self._since_detection is None
               or self._since_detection + 1 >= self.det_interval
               or boxes is not None)
        for track in self.tracks:
            track.motion.predict()
        result = None
        if not due and self.method == 'pose':
            result = self._between_detections(frame, index)
        if result is None:
            result = self._with_detections(frame, index, boxes, poses)
            self._since_detection = 0
        else:
            self._since_detection += 1
        return result

    # ------------------------------------------------------- detection --
    def _people(self, frame, boxes):
        if boxes is not None:
            people = np.asarray(boxes, np.float32).reshape(-1, 5)
            return people, np.zeros((0, 5), np.float32)
        if self.detect is None:
            raise ValueError('this PoseTracker has no detector: pass boxes')
        people, rest = self.detect(frame)
        return (np.asarray(people, np.float32).reshape(-1, 5),
                np.asarray(rest, np.float32).reshape(-1, 5))

    def _estimate(self, frame, boxes):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
        if len(boxes) == 0:
            k = self.num_keypoints
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k),
                                                             np.float32)
        kpts, scores = self.estimate(frame, boxes)
        kpts, scores = np.asarray(kpts), np.asarray(scores)
        self.num_keypoints = kpts.shape[1]
        return kpts, scores

    def _with_detections(self, frame, index, boxes, poses) -> TrackedFrame:
        people, rest = self._people(frame, boxes)
        if poses is not None:
            kpts, scores = (np.asarray(p) for p in poses)
            if len(kpts):
                self.num_keypoints = kpts.shape[1]
        else:
            kpts, scores = self._estimate(frame, people)
        if self.method == 'none':
            return TrackedFrame(index, people, kpts, scores,
                                np.full(len(people), -1, np.int64), True)
        if self.method == 'bytetrack':
            return self._bytetrack_frame(frame, index, people, rest, kpts,
                                         scores, poses is not None)
        return self._associate(frame, index, people, rest, kpts, scores,
                               confirm=boxes is None)

    def _bytetrack_frame(self, frame, index, people, rest, kpts, scores,
                         given_poses) -> TrackedFrame:
        import supervision as sv
        boxes = np.concatenate([people, rest])
        dets = sv.Detections(xyxy=boxes[:, :4].astype(np.float64),
                             confidence=boxes[:, 4].astype(np.float64),
                             data=dict(index=np.arange(len(boxes))))
        out = self._bytetrack.update(dets)
        keep = out.tracker_id >= 0
        order = out.data['index'][keep]
        ids = out.tracker_id[keep].astype(np.int64)
        chosen = boxes[order]
        if given_poses:  # only given people have poses
            inside = order < len(people)
            order, ids, chosen = order[inside], ids[inside], chosen[inside]
            k, s = kpts[order], scores[order]
        else:
            k, s = self._estimate(frame, chosen)
        fresh = {int(i): int(i) not in self._filters for i in ids}
        return self._report(index, chosen, k, s, ids, True, fresh)

    def _associate(self, frame, index, people, rest, kpts, scores,
                   confirm: bool = True) -> TrackedFrame:
        """ByteTrack's two stages with OKS, pose-confirmed boxes (unless
        the boxes were given: then they are all the people), births."""
        found = []  # (track or None, box (5,), keypoints, scores)
        # 1: the tracks against the kept people, IoU + OKS: first those
        # seen on the last frame, then the hidden ones (DeepSORT's
        # matching cascade: a person tracked without a break keeps their
        # box when a hidden one reappears beside them)
        new, left = list(range(len(people))), []
        for tracks in ([t for t in self.tracks if t.last_seen == index - 1],
                       [t for t in self.tracks if t.last_seen < index - 1]):
            sim = self._similarity(tracks, people[new, :4], kpts[new],
                                   scores[new])
            pairs = assign(sim, self.match_thr)
            for r, c in pairs:
                c = new[c]
                found.append((tracks[r], people[c], kpts[c], scores[c]))
            taken = {new[c] for _, c in pairs}
            left += [t for i, t in enumerate(tracks)
                     if i not in {r for r, _ in pairs}]
            new = [c for c in new if c not in taken]
        recent = [t for t in left
                  if index - t.last_seen <= self.confirm_frames]
        detected = len(found)
        if self.estimate is not None and recent and confirm:
            # 2: low-score boxes near a left-over track's prediction
            recent = self._low_boxes(frame, recent, rest, found)
            # 3: pose-confirmed boxes where the detector found nobody
            self._confirm(frame, recent, found, index)
        # new tracks: the kept people no track took, unless a track just
        # continued without a detection is that person
        continued = found[detected:]
        for c in new:
            if not self._duplicate(kpts[c], scores[c], continued):
                found.append((None, people[c], kpts[c], scores[c]))
        return self._commit(index, found, True)

    def _same(self, ka, sa, kb, sb) -> bool:
        return oks(ka[None], sa[None], kb[None], sb[None], self.sigmas,
                   self.kpt_thr)[0, 0] > self.dup_oks

    def _duplicate(self, k, s, found) -> bool:
        return any(self._same(k, s, f[2], f[3]) for f in found)

    def _similarity(self, tracks, boxes, kpts, scores) -> np.ndarray:
        if not tracks or not len(boxes):
            return np.zeros((len(tracks), len(boxes)))
        iou = np.array([[track_iou(b, t.predicted_box(), t.size)
                         for b in boxes] for t in tracks])
        moved = np.stack([t.keypoints + t.shift() for t in tracks])
        tscores = np.stack([t.scores for t in tracks])
        return (self.iou_weight * iou
                + (1 - self.iou_weight) * oks(moved, tscores, kpts, scores,
                                              self.sigmas, self.kpt_thr))

    def _predicted_boxes(self, tracks) -> np.ndarray:
        """(N, 4) keypoint boxes of the tracks' last poses, moved by the
        motion model's prediction."""
        shift = np.stack([np.tile(t.shift(), 2) for t in tracks])
        return np.stack([t.kbox for t in tracks]) + shift

    def _pose_box(self, k, s) -> np.ndarray:
        """(5,) a person found by the pose model alone: their keypoints'
        box and mean keypoint score."""
        return np.append(keypoint_boxes(k[None], s[None], self.kpt_thr)[0],
                         np.mean(s))

    def _pose_continues(self, k, s, found) -> bool:
        return float(np.mean(s)) >= self.conf_thr and not self._duplicate(
            k, s, found)

    def _low_boxes(self, frame, tracks, rest, found) -> List[_Track]:
        """ByteTrack's second stage, each match checked by its pose; the
        tracks still left over."""
        if not len(rest):
            return tracks
        pred = np.stack([t.predicted_box() for t in tracks])
        pairs = assign(box_iou(pred, rest), 0.5)
        if not pairs:
            return tracks
        cand = rest[[c for _, c in pairs]]
        kpts, scores = self._estimate(frame, cand)
        taken = set()
        for (r, c), k, s, box in zip(pairs, kpts, scores, cand):
            if self._pose_continues(k, s, found):
                found.append((tracks[r], box, k, s))
                taken.add(r)
        return [t for i, t in enumerate(tracks) if i not in taken]

    def _confirm(self, frame, tracks, found, index) -> None:
        """Look for each track at its predicted box (most recently seen
        first); keep the confident, unique poses."""
        if not tracks:
            return
        tracks = sorted(tracks, key=lambda t: -t.last_seen)
        boxes = np.stack([t.predicted_box() for t in tracks])
        kpts, scores = self._estimate(
            frame, np.hstack([boxes, np.ones((len(boxes), 1))]))
        for t, k, s in zip(tracks, kpts, scores):
            if self._pose_continues(k, s, found):
                found.append((t, self._pose_box(k, s), k, s))

    # ------------------------------------------------ between detections --
    def _between_detections(self, frame, index) -> Optional[TrackedFrame]:
        """Every track seen on the last frame, at its keypoint box; None
        (run the detector) when one of them is not found there."""
        live = [t for t in self.tracks if t.last_seen == index - 1]
        if not live:
            return None
        boxes = self._predicted_boxes(live)
        kpts, scores = self._estimate(
            frame, np.hstack([boxes, np.ones((len(boxes), 1))]))
        found = []
        for t, k, s in zip(live, kpts, scores):
            if not self._pose_continues(k, s, found):
                return None
            found.append((t, self._pose_box(k, s), k, s))
        return self._commit(index, found, False)

    # ---------------------------------------------------------- commit --
    def _commit(self, index, found, detector) -> TrackedFrame:
        """Update the found tracks, start the new ones, drop the old."""
        fresh, ids = {}, []
        for track, box, k, s in found:
            kbox = keypoint_boxes(k[None], s[None], self.kpt_thr)[0]
            if track is None:
                track = _Track(self.next_id, _motion_model(box[:4]), k, s,
                               kbox, np.zeros(2), index,
                               np.asarray(box[2:4], np.float64) - box[:2])
                self.next_id += 1
                self.tracks.append(track)
                gap = True
            else:
                track.observe(box)
                gap = track.last_seen != index - 1
            state = track.motion.get_state_bbox()
            track.keypoints, track.scores, track.kbox = k, s, kbox
            track.centre = (state[:2] + state[2:]) / 2
            track.last_seen = index
            fresh[track.track_id] = gap
            ids.append(track.track_id)
        self.tracks = [t for t in self.tracks
                       if index - t.last_seen <= self.max_lost]
        boxes = np.stack([f[1][:5] for f in found]) if found else None
        kpts = np.stack([f[2] for f in found]) if found else None
        scores = np.stack([f[3] for f in found]) if found else None
        return self._report(index, boxes, kpts, scores,
                            np.array(ids, np.int64), detector, fresh)

    def _report(self, index, boxes, kpts, scores, ids, detector, fresh
                ) -> TrackedFrame:
        """Order by track id and smooth the keypoints."""
        k = self.num_keypoints
        if kpts is None or boxes is None or not len(boxes):
            boxes = np.zeros((0, 5), np.float32)
            kpts, scores = np.zeros((0, k, 2), np.float32), np.zeros(
                (0, k), np.float32)
        order = np.argsort(ids, kind='stable')
        boxes, kpts, scores, ids = (np.asarray(boxes, np.float32)[order],
                                    np.asarray(kpts, np.float32)[order],
                                    np.asarray(scores, np.float32)[order],
                                    ids[order])
        if self.smooth:
            kpts = kpts.copy()
            for i, tid in enumerate(ids):
                kpts[i] = self._smoother(int(tid), fresh.get(int(tid), False),
                                         index)(kpts[i], index / self.fps)
        return TrackedFrame(index, boxes, kpts, scores, ids, detector)

    def _smoother(self, track_id: int, gap: Optional[bool], index: int
                  ) -> OneEuroFilter:
        """The One-Euro filter of a track: a new one when the track starts
        or comes back after frames without it (``gap``)."""
        last = self._filters.get(track_id)
        if last is None or gap or last[1] != index - 1:
            last = (OneEuroFilter(self.min_cutoff, self.beta), index)
        self._filters[track_id] = (last[0], index)
        # forget the filters of tracks not seen on this frame or the last
        self._filters = {i: f for i, f in self._filters.items()
                         if f[1] >= index - 1}
        return last[0]
