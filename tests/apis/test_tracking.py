"""Person tracking for video pose estimation (vitpose_runtime.tracking,
vitpose_runtime.smoothing, vitpose_mm.apis.PoseTracker).

The unit tests drive the numpy core with scripted detections and poses;
the end-to-end test runs YOLOX-Nano and a tiny ViTPose on the composite
clip of real COCO people (tests/apis/composite_video.py), whose
ground-truth identities come from how the clip was made.
"""
import builtins
import contextlib

import numpy as np
import pytest

from tests.conftest import require_shared
from vitpose_runtime import tracking
from vitpose_runtime.smoothing import OneEuroFilter
from vitpose_runtime.tracking import (PoseTracker, assign, complete_box,
                                      keypoint_boxes, oks, sigmas_for)

K = 17
#: A standing person's 17 keypoints in a unit box (x right, y down).
SHAPE = np.array([[.5, .1], [.55, .08], [.45, .08], [.6, .1], [.4, .1],
                  [.7, .3], [.3, .3], [.8, .5], [.2, .5], [.85, .65],
                  [.15, .65], [.62, .6], [.38, .6], [.63, .8], [.37, .8],
                  [.64, .98], [.36, .98]])

#: Another pose: arms raised.
ARMS_UP = SHAPE.copy()
ARMS_UP[7:11, 1] = [.15, .15, .0, .0]


def person(x, y=100., w=60., h=150., shape=SHAPE):
    """(box (5,), keypoints (K, 2)) of a person whose box is at x, y."""
    kpts = shape * (w, h) + (x, y)
    lo, hi = kpts.min(0), kpts.max(0)
    c, half = (lo + hi) / 2, (hi - lo) * 1.25 / 2
    return np.r_[c - half, c + half, 0.9], kpts


class Script:
    """Scripted detector and pose model: ``scenes[t]`` lists the people
    (box, keypoints) on frame t; the detector finds those not in
    ``missed[t]``; the pose model returns, for any box, the keypoints of
    the person whose box overlaps it most (score 0.9), or low scores where
    nobody is."""

    def __init__(self, scenes, missed=None):
        self.scenes, self.missed = scenes, missed or {}
        self.t, self.detector_calls = -1, []

    def frame(self):
        self.t += 1
        return np.zeros((4, 4, 3), np.uint8)

    def detect(self, frame):
        self.detector_calls.append(self.t)
        people = [b for i, (b, _) in enumerate(self.scenes[self.t])
                  if i not in self.missed.get(self.t, ())]
        return (np.array(people, np.float32).reshape(-1, 5),
                np.zeros((0, 5), np.float32))

    def estimate(self, frame, boxes):
        scene = self.scenes[self.t]
        kpts = np.zeros((len(boxes), K, 2))
        scores = np.full((len(boxes), K), 0.05)
        if scene:
            iou = tracking.box_iou(boxes, np.array([b for b, _ in scene]))
            for i, row in enumerate(iou):
                if row.max() > 0.3:
                    kpts[i], scores[i] = scene[row.argmax()][1], 0.9
        return kpts, scores

    def tracker(self, **options):
        options.setdefault('fps', 10.)
        return PoseTracker(self.detect, self.estimate, **options)


def run(script, tracker, frames):
    return [tracker(script.frame()) for _ in range(frames)]


def ids_by_x(results, split):
    """Per frame: the track ids of the people left and right of x=split."""
    return [(sorted(int(i) for i, b in zip(r.track_ids, r.boxes)
                    if b[0] < split),
             sorted(int(i) for i, b in zip(r.track_ids, r.boxes)
                    if b[0] >= split)) for r in results]


def test_oks_keypoint_boxes_and_box_completion():
    _, a = person(0)
    s = np.ones((1, K))
    sig = sigmas_for(K)
    assert oks(a[None], s, a[None], s, sig)[0, 0] == pytest.approx(1)
    far = oks(a[None], s, a[None] + 200, s, sig)[0, 0]
    near = oks(a[None], s, a[None] + 3, s, sig)[0, 0]
    assert far < 1e-6 < near < 1
    # keypoints scoring <= kpt_thr are left out; none in common: 0
    assert oks(a[None], np.zeros((1, K)), a[None], s, sig)[0, 0] == 0
    box = keypoint_boxes(a[None], s)[0]
    lo, hi = a.min(0), a.max(0)
    np.testing.assert_allclose(box[2:] - box[:2], (hi - lo) * 1.25)
    np.testing.assert_allclose((box[2:] + box[:2]) / 2, (lo + hi) / 2)
    # a box cut on its right by a pillar: the left edge is where the
    # person was predicted, so the right edge is restored
    size, pred = np.array([60., 150.]), np.array([100., 50, 160, 200])
    np.testing.assert_allclose(complete_box([102, 50, 130, 201], pred, size),
                               [102, 50, 162, 201])
    np.testing.assert_allclose(complete_box([131, 52, 158, 200], pred, size),
                               [98, 52, 158, 200])
    whole = np.array([101., 51, 159, 199])
    np.testing.assert_array_equal(complete_box(whole, pred, size), whole)
    with pytest.raises(ValueError, match='3 OKS sigmas for 17 keypoints'):
        sigmas_for(K, [0.1, 0.1, 0.1])


@contextlib.contextmanager
def without(*packages):
    """Imports of these packages fail (the runtime without extras)."""
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split('.')[0] in packages:
            raise ImportError(f'no {name}')
        return real(name, *args, **kwargs)

    builtins.__import__ = fake
    try:
        yield
    finally:
        builtins.__import__ = real


def test_assign_is_optimal_with_scipy_and_greedy_without():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert sorted(assign(sim, 0.2)) == [(0, 1), (1, 0)]  # total 1.65
    with without('scipy'):
        assert sorted(assign(sim, 0.2)) == [(0, 0)]  # 0.9 first; 0.1 < thr
    assert assign(np.zeros((0, 3)), 0.1) == []


@pytest.mark.parametrize('libraries', ['installed', 'missing'])
def test_crossing_people_keep_their_ids(libraries):
    """Two people walk through each other; the detector misses the one
    behind for three frames in the middle. Each keeps the id they started
    with, with or without the trackers library and scipy (the runtime's
    fallback)."""
    scenes = []
    for t in range(30):
        a = person(20 + 8 * t, shape=SHAPE)
        b = person(260 - 8 * t, y=104, shape=ARMS_UP)
        scenes.append([a, b])
    script = Script(scenes, missed={11: {1}, 12: {1}, 13: {1}})
    ctx = without('trackers', 'scipy') if libraries == 'missing' else \
        contextlib.nullcontext()
    with ctx:
        results = run(script, script.tracker(), 30)
    first = [int(results[0].track_ids[np.argmin(results[0].boxes[:, 0])]),
             int(results[0].track_ids[np.argmax(results[0].boxes[:, 0])])]
    for t, r in enumerate(results):
        want_a, want_b = person(20 + 8 * t)[0], person(260 - 8 * t)[0]
        by_id = dict(zip(r.track_ids.tolist(), r.boxes))
        assert set(by_id) == set(first), (t, by_id)
        # pose-confirmed while the detector missed B: still two people
        assert tracking.box_iou(by_id[first[0]][None], want_a[None]) > 0.5
        assert tracking.box_iou(by_id[first[1]][None], want_b[None]) > 0.5
    assert [r.detector for r in results] == [True] * 30


def test_hidden_person_keeps_id_up_to_track_seconds_never_reused():
    """Hidden for 8 frames at 10 fps (< 1 s): the same id; hidden for 15
    frames (> 1 s): a new id, and the old one is never given again."""
    def scenes(hidden):
        out = []
        for t in range(40):
            people = [person(20 + 4 * t)]
            if t not in hidden:
                people.append(person(300 + 2 * t, y=120))
            out.append(people)
        return out

    for hidden, same in ((range(10, 18), True), (range(10, 25), False)):
        script = Script(scenes(set(hidden)))
        results = run(script, script.tracker(track_seconds=1.0), 40)
        right = [ids for _, ids in ids_by_x(results, 250)]
        before, after = right[hidden.start - 1], right[hidden.stop]
        assert all(r == [] for r in right[hidden.start:hidden.stop])
        assert (before == after) is same, (before, after)
        seen = [i for r in results for i in r.track_ids.tolist()]
        assert min(seen) == 0 and all(i >= 0 for i in seen)
        if not same:
            assert after[0] == max(seen) != before[0]


def test_det_interval_runs_the_detector_every_nth_frame_and_when_lost():
    scenes = [[person(20 + 3 * t)] + ([person(300, y=120)] if t < 12 else
                                      []) for t in range(20)]
    script = Script(scenes)
    results = run(script, script.tracker(det_interval=5), 20)
    # frame 12: the right person is gone, their pose fails: detector
    assert script.detector_calls == [0, 5, 10, 12, 17]
    assert [t for t, r in enumerate(results) if r.detector] == \
        script.detector_calls
    ids = [r.track_ids.tolist() for r in results]
    assert ids[:12] == [[0, 1]] * 12 and ids[12:] == [[0]] * 8
    # between detections the box is the keypoints' box, moved
    np.testing.assert_allclose(results[3].boxes[0, :4],
                               person(29)[0][:4], atol=4)


def test_smoothing_reduces_jitter_and_restarts_with_a_track():
    rng = np.random.default_rng(0)
    scenes = [[(person(100 + 2 * t)[0],
                person(100 + 2 * t)[1] + rng.normal(0, 2, (K, 2)))]
              for t in range(40)]
    plain = Script(scenes)
    raw = run(plain, plain.tracker(), 40)
    script = Script(scenes)
    smooth = run(script, script.tracker(smooth=True), 40)

    def jitter(results):
        k = np.stack([r.keypoints[0] for r in results])
        return np.abs(k[2:] - 2 * k[1:-1] + k[:-2]).mean()

    assert jitter(smooth) < 0.5 * jitter(raw)
    np.testing.assert_array_equal(smooth[0].keypoints, raw[0].keypoints)
    # boxes (the tracking state) are not smoothed
    np.testing.assert_array_equal(smooth[5].boxes, raw[5].boxes)


def test_one_euro_filter_follows_the_paper():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert f(np.array([0.]), 0.0) == 0.
    # beta 0: a fixed exponential filter, alpha = 1 / (1 + tau / dt)
    tau, dt = 1 / (2 * np.pi), 0.1
    alpha = 1 / (1 + tau / dt)
    assert f(np.array([10.]), dt)[0] == pytest.approx(10 * alpha)
    # a higher beta follows a fast move more closely
    slow, fast = OneEuroFilter(1.0, 0.0), OneEuroFilter(1.0, 1.0)
    for t in range(10):
        x = np.array([50. * t])
        a, b = slow(x, t * 0.1), fast(x, t * 0.1)
    assert abs(b[0] - 450) < abs(a[0] - 450)
    f.reset()
    assert f(np.array([7.]), 5.0) == 7.
    with pytest.raises(ValueError, match='time 5.0 s is not after 5.0 s'):
        f(np.array([7.]), 5.0)
    with pytest.raises(ValueError, match='min_cutoff must be > 0'):
        OneEuroFilter(min_cutoff=0)
    with pytest.raises(ValueError, match='beta must be >= 0'):
        OneEuroFilter(beta=-1)


@pytest.mark.parametrize('options, message', [
    (dict(method='sort'), "tracker 'sort': choose from"),
    (dict(det_interval=0), 'det_interval must be an int >= 1, got 0'),
    (dict(det_interval=2, method='bytetrack'), 'det_interval 2 needs'),
    (dict(fps=0), 'fps must be a finite number > 0, got 0'),
    (dict(smooth=True, method='none'), 'smoothing follows tracks'),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        PoseTracker(lambda f: None, lambda f, b: None, **options)


def test_bytetrack_needs_the_trackers_package():
    with without('trackers'), pytest.raises(
            ImportError, match='needs the trackers package'):
        PoseTracker(None, None, method='bytetrack')


def test_identities_on_the_composite_clip_with_real_models(tmp_path):
    """YOLOX-Nano + a tiny ViTPose (seeded random weights: its keypoints
    are meaningless, so only boxes carry identity here) on the composite
    clip at 480x270: the three people keep their ids through the crossing
    and the pillar (IDF1 >= 0.75, <= 1 switch, <= 4 ids)."""
    from tests.apis.composite_video import make_clip
    from tests.tools.test_demo import _tiny_pose
    from vitpose_mm.apis import init_person_detector, init_pose_model
    from vitpose_mm.apis import PoseTracker as TorchPoseTracker
    coco = require_shared('data/coco')
    det = init_person_detector('mmdet::yolox/yolox_nano_8xb8-300e_coco.py',
                               str(require_shared(
                                   'weights/yolox_nano_coco_mmdet.pth')))
    cfg, ckpt = _tiny_pose(32, tmp_path)
    pose = init_pose_model(str(cfg), str(ckpt))
    clip = make_clip(coco, scale=0.5)
    tracker = TorchPoseTracker(pose, det, fps=clip.fps)
    results = [tracker(f) for f in clip.frames]
    hyp = [[(int(i), b[:4]) for i, b in zip(r.track_ids, r.boxes)]
           for r in results]
    ours = id_metrics(clip.gt, hyp)
    assert ours['idf1'] >= 0.75 and ours['switches'] <= 1, ours
    assert ours['ids'] <= 4, ours
    for r in results:  # one id per person per frame
        assert len(set(r.track_ids.tolist())) == len(r)


def id_metrics(gt, hyp):
    """IDF1, switches (motmetrics, box IoU >= 0.5), distinct ids."""
    mm = pytest.importorskip('motmetrics')
    acc = mm.MOTAccumulator(auto_id=True)
    for g, h in zip(gt, hyp):
        gb = np.array([p['box'] for p in g]).reshape(-1, 4)
        hb = np.array([b for _, b in h]).reshape(-1, 4)
        dist = 1 - tracking.box_iou(gb, hb)
        dist[dist > 0.5] = np.nan
        acc.update([p['id'] for p in g], [i for i, _ in h], dist)
    s = mm.metrics.create().compute(acc, metrics=['idf1', 'num_switches'])
    return dict(idf1=float(s['idf1'].iloc[0]),
                switches=int(s['num_switches'].iloc[0]),
                ids=len({i for h in hyp for i, _ in h}))
