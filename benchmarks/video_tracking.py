"""Video pose estimation benchmark: identities, the detector interval,
smoothing and demo throughput.

Clips: the composite clips of ``tests/apis/composite_video.py`` (real
COCO people cut out by their masks, with ground-truth identities and
keypoints: two cross, one enters late and hides behind a pillar for 8
frames; 960x540, 15 fps, 60 frames, the layout of issue 23's held-back
clip) and the same clip mirrored; the real clips of
``../shared/data/video`` for timing. The pose model is the tiny main-job
ViTPose (``--pose-checkpoint``; default: the overfit variant trained
here first, ~30 s) and the detector YOLOX-Nano
(``../shared/weights``). Both learned from / were picked on the same 14
COCO people the composites are made of: the keypoints are better than on
unseen people.

Parts (``--parts``, default all):

- ``ids``: IDF1, ID switches, MOTA (motmetrics, box IoU >= 0.5 with the
  ground truth) and distinct ids for per-frame rank ids, mmpose's greedy
  IoU and OKS matchers (``mmpose.apis.inference_tracking``, threshold 0.3
  as mmpose's 3D demo), the ``trackers`` library's ByteTrack (kept
  people only, and with the low-score boxes), ours (``--tracker pose``)
  and ours without the ``trackers`` library (the runtime's fallback);
- ``interval``: frames/s and keypoint agreement with N = 1 (PCK at 0.05 of
  the box size, and mean pixel difference) for ``--det-interval`` N in 1,
  2, 5, 10, with YOLOX-Nano and with a heavier mmdet detector (YOLOX-S,
  640x640, random weights: it runs for the timing, the boxes used are
  YOLOX-Nano's, so its agreement is the same by construction);
- ``smooth``: keypoint jitter (mean |second difference|, px / frame^2)
  and mean keypoint error (px, visible ground-truth keypoints) without and
  with the One-Euro filter, over a grid of its two parameters;
- ``demo``: the demo end to end on a real clip (frames/s and where the
  time goes) without and with the reader / writer threads.

Usage::

    .venv/bin/python benchmarks/video_tracking.py [--parts ids,interval]
        [--pose-config CFG --pose-checkpoint CKPT] [--out outputs/video]

A benchmark, not a test: minutes on a 2-core CPU.
"""
import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.apis.composite_video import Clip, make_clip  # noqa: E402
from vitpose_runtime.tracking import box_iou  # noqa: E402

SHARED = Path(os.environ.get('VITPOSE_MM_SHARED', REPO.parent / 'shared'))
COCO = SHARED / 'data' / 'coco'
DET_CFG = 'mmdet::yolox/yolox_nano_8xb8-300e_coco.py'
DET_CKPT = SHARED / 'weights' / 'yolox_nano_coco_mmdet.pth'
HEAVY_DET_CFG = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'
CONFIG_DIR = REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny'
POSE_CFG = CONFIG_DIR / ('vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_'
                         'coco-tiny-128x96.py')


def mirrored(clip: Clip) -> Clip:
    """The clip flipped left-right (ground truth too)."""
    w = clip.frames[0].shape[1]
    gt = []
    for frame in clip.gt:
        people = []
        for p in frame:
            box = p['box'].copy()
            box[[0, 2]] = w - p['box'][[2, 0]]
            kpts = p['keypoints'].copy()
            kpts[:, 0] = w - kpts[:, 0]
            people.append(dict(p, box=box, keypoints=kpts))
        gt.append(people)
    return Clip([f[:, ::-1].copy() for f in clip.frames], gt, clip.fps)


def train_pose(out: Path) -> Path:
    """The overfit variant of the main-job config, trained here once."""
    work = out / 'overfit'
    found = sorted(work.glob('best_coco_AP_epoch_*.pth'))
    if not found:
        subprocess.run([sys.executable, 'benchmarks/overfit_coco_tiny.py',
                        '--data-root', str(COCO), '--work-dir', str(work)],
                       cwd=REPO, check=True)
        found = sorted(work.glob('best_coco_AP_epoch_*.pth'))
    return found[-1]


# ------------------------------------------------------------ metrics --
def id_metrics(gt, hyp):
    """motmetrics IDF1, ID switches, MOTA on box IoU >= 0.5, and the
    number of distinct hypothesis ids. ``hyp``: per frame a list of
    (id, box xyxy)."""
    import motmetrics as mm
    acc = mm.MOTAccumulator(auto_id=True)
    ids = set()
    for g, h in zip(gt, hyp):
        gb = np.array([p['box'] for p in g]).reshape(-1, 4)
        hb = np.array([b for _, b in h], np.float64).reshape(-1, 4)
        ids |= {i for i, _ in h}
        # 1 - IoU, NaN (no match) below IoU 0.5: mm.distances.iou_matrix
        # with max_iou=0.5, which numpy 2 no longer runs (np.asfarray)
        dist = 1 - box_iou(gb, hb)
        dist[dist > 0.5] = np.nan
        acc.update([p['id'] for p in g], [i for i, _ in h], dist)
    summary = mm.metrics.create().compute(
        acc, metrics=['idf1', 'num_switches', 'mota'], name='x')
    return dict(idf1=float(summary['idf1'].iloc[0]),
                switches=int(summary['num_switches'].iloc[0]),
                mota=float(summary['mota'].iloc[0]), ids=len(ids))


# --------------------------------------------------------- the models --
class Models:
    """The detector and pose model, with each frame's detections and
    poses cached (the per-frame matchers share them)."""

    def __init__(self, pose_cfg, pose_ckpt, det_cfg=DET_CFG,
                 det_ckpt=DET_CKPT):
        from vitpose_mm.apis import init_person_detector, init_pose_model
        self.pose = init_pose_model(str(pose_cfg), str(pose_ckpt))
        self.detector = (init_person_detector(det_cfg, str(det_ckpt))
                         if det_ckpt else None)

    def tracker(self, **options):
        from vitpose_mm.apis import PoseTracker
        return PoseTracker(self.pose, self.detector, **options)


def frame_people(models, clip):
    """Per frame: kept boxes, low boxes, keypoints, scores (N = 1 run)."""
    from vitpose_mm.apis import estimate_poses
    from vitpose_mm.apis.models import detect_people_and_rest
    out = []
    for frame in clip.frames:
        kept, rest = detect_people_and_rest(models.detector, frame)
        if len(kept):
            pred = estimate_poses(models.pose, frame, kept).pred_instances
            k, s = pred.keypoints, pred.keypoint_scores
        else:
            k, s = np.zeros((0, 17, 2)), np.zeros((0, 17))
        out.append((kept, rest, k, s))
    return out


def rank_ids(people):
    return [[(i, b[:4]) for i, b in enumerate(kept)]
            for kept, _, _, _ in people]


def mmpose_ids(people, use_oks, thr=0.3):
    """mmpose 1.x's greedy matchers, as its body3d demo calls them: each
    person against the previous frame's, a new id when none matches."""
    from mmengine.structures import InstanceData
    from mmpose.apis.inference_tracking import _track_by_iou, _track_by_oks
    from mmpose.structures import PoseDataSample
    last, next_id, hyp = [], 0, []
    for kept, _, kpts, scores in people:
        current, frame = [], []
        for box, k, s in zip(kept, kpts, scores):
            res = PoseDataSample()
            inst = InstanceData()
            inst.bboxes = box[None, :4]
            inst.keypoints = k[None]
            inst.keypoint_scores = s[None]
            inst.areas = np.array([(box[2] - box[0]) * (box[3] - box[1])])
            res.pred_instances = inst
            if use_oks:
                tid, last, _ = _track_by_oks(res, last, thr)
            else:
                tid, last, _ = _track_by_iou(res, last, thr)
            if tid == -1:
                tid, next_id = next_id, next_id + 1
            res.track_id = tid
            current.append(res)
            frame.append((tid, box[:4]))
        last = current
        hyp.append(frame)
    return hyp


def bytetrack_ids(people, fps, with_low):
    """The trackers library's ByteTrack, default settings, on the kept
    people (and the low-score boxes)."""
    import supervision as sv
    from trackers import ByteTrackTracker
    tracker = ByteTrackTracker(frame_rate=fps)
    hyp = []
    for kept, rest, _, _ in people:
        boxes = np.concatenate([kept, rest]) if with_low else kept
        out = tracker.update(sv.Detections(
            xyxy=boxes[:, :4].astype(np.float64),
            confidence=boxes[:, 4].astype(np.float64)))
        hyp.append([(int(i), b) for i, b in zip(out.tracker_id, out.xyxy)
                    if i >= 0])
    return hyp


def tracker_ids(models, clip, **options):
    tracker = models.tracker(fps=clip.fps, **options)
    return [[(int(i), b[:4]) for i, b in zip(t.track_ids, t.boxes)]
            for t in map(tracker, clip.frames)]


@contextlib.contextmanager
def without_trackers_library():
    """Hide scipy's and the trackers library's modules (the runtime's
    fallback: still boxes, greedy assignment)."""
    import builtins
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split('.')[0] in ('trackers', 'scipy'):
            raise ImportError(f'no {name} (benchmark)')
        return real(name, *args, **kwargs)

    builtins.__import__ = fake
    try:
        yield
    finally:
        builtins.__import__ = real


def part_ids(models, clips):
    rows = {}
    for name, clip in clips.items():
        people = frame_people(models, clip)
        runs = {
            'per-frame rank ids': rank_ids(people),
            'mmpose greedy IoU (0.3)': mmpose_ids(people, False),
            'mmpose greedy OKS (0.3)': mmpose_ids(people, True),
            'ByteTrack (trackers), people only': bytetrack_ids(
                people, clip.fps, False),
            'ByteTrack (trackers), + low-score boxes': bytetrack_ids(
                people, clip.fps, True),
            'ours (--tracker pose)': tracker_ids(models, clip),
        }
        with without_trackers_library():
            runs['ours without trackers/scipy (runtime fallback)'] = \
                tracker_ids(models, clip)
        for method, hyp in runs.items():
            rows.setdefault(method, {})[name] = id_metrics(clip.gt, hyp)
    print('\n## Identities (motmetrics, box IoU >= 0.5; 3 people per clip)\n')
    names = list(clips)
    print('| method | ' + ' | '.join(
        f'{n}: IDF1 / switches / MOTA / ids' for n in names) + ' |')
    print('|---|' + '---|' * len(names))
    for method, by_clip in rows.items():
        cells = [f"{m['idf1']:.3f} / {m['switches']} / {m['mota']:.3f} / "
                 f"{m['ids']}" for m in (by_clip[n] for n in names)]
        print(f'| {method} | ' + ' | '.join(cells) + ' |')
    return rows


def _match(a_boxes, b_boxes):
    """Pairs of people of two results of one frame (box IoU >= 0.5)."""
    from vitpose_runtime.tracking import assign
    if not len(a_boxes) or not len(b_boxes):
        return []
    return assign(box_iou(a_boxes, b_boxes), 0.5)


def keypoint_agreement(ref, runs):
    """PCK (keypoints within 0.05 of the person's box size, max(w, h)) and
    mean pixel distance of ``runs``' keypoints to ``ref``'s, over people
    matched by box IoU >= 0.5; and the fraction of ``ref``'s people
    found."""
    close, dist, found, total = [], [], 0, 0
    for r, t in zip(ref, runs):
        total += len(r)
        for i, j in _match(r.boxes, t.boxes):
            found += 1
            size = max(np.ptp(r.boxes[i, [0, 2]]), np.ptp(r.boxes[i, [1, 3]]))
            d = np.linalg.norm(r.keypoints[i] - t.keypoints[j], axis=-1)
            dist.append(d.mean())
            close.append((d <= 0.05 * size).mean())
    return (float(np.mean(close)) if close else 0., float(np.mean(dist))
            if dist else float('nan'), found / max(total, 1))


def keypoint_error(gt, runs):
    """Mean pixel error of the visible ground-truth keypoints, over people
    matched by box IoU >= 0.5."""
    errs = []
    for g, t in zip(gt, runs):
        if not g:
            continue
        gb = np.array([p['box'] for p in g])
        for i, j in _match(gb, t.boxes):
            vis = g[i]['visible']
            errs += list(np.linalg.norm(
                g[i]['keypoints'][vis] - t.keypoints[j][vis], axis=-1))
    return float(np.mean(errs))


def run_tracker(tracker, frames):
    start = time.perf_counter()
    out = [tracker(f) for f in frames]
    return out, len(frames) / (time.perf_counter() - start)


def part_interval(models, clip):
    """--det-interval N: frames/s, detector calls, agreement with N = 1."""
    from mmdet.apis import init_detector

    from vitpose_mm.apis.models import load_config
    cfg = load_config(HEAVY_DET_CFG)
    cfg.model.backbone.init_cfg = None
    heavy = init_detector(cfg, None, device='cpu')
    from mmpose.utils import adapt_mmdet_pipeline
    heavy.cfg = adapt_mmdet_pipeline(heavy.cfg)
    print('\n## Detector interval (composite clip, 60 frames, 960x540; '
          'agreement with N = 1)\n')
    print('| detector | N | frames/s | detector runs | PCK@0.05 vs N=1 | '
          'mean px vs N=1 | people of N=1 found | keypoint error vs GT (px)'
          ' |')
    print('|---|---|---|---|---|---|---|---|')
    for det_name, extra in (('YOLOX-Nano', None), ('YOLOX-S (random)',
                                                    heavy)):
        ref = None
        for n in (1, 2, 5, 10):
            tracker = models.tracker(fps=clip.fps, det_interval=n)
            if extra is not None:
                own = tracker.detect

                def detect(frame, own=own):
                    from mmdet.apis import inference_detector
                    inference_detector(extra, frame)  # the heavy cost
                    return own(frame)
                tracker.detect = detect
            out, fps = run_tracker(tracker, clip.frames)
            if n == 1:
                ref = out
            pck, px, found = keypoint_agreement(ref, out)
            runs = sum(t.detector for t in out)
            err = keypoint_error(clip.gt, out)
            print(f'| {det_name} | {n} | {fps:.2f} | {runs} | {pck:.3f} | '
                  f'{px:.2f} | {found:.3f} | {err:.2f} |', flush=True)


def jitter(runs):
    """Mean |second difference| of each track's keypoints over three
    consecutive frames, px / frame^2."""
    acc, seen = [], {}
    for t, frame in enumerate(runs):
        for tid, k in zip(frame.track_ids, frame.keypoints):
            seen.setdefault(int(tid), {})[t] = k
    for frames in seen.values():
        for t in frames:
            if t - 1 in frames and t - 2 in frames:
                acc.append(np.linalg.norm(
                    frames[t] - 2 * frames[t - 1] + frames[t - 2],
                    axis=-1).mean())
    return float(np.mean(acc))


def gt_jitter(gt):
    """The same on the ground truth (its own motion: the walkers' bob)."""
    acc, seen = [], {}
    for t, frame in enumerate(gt):
        for p in frame:
            seen.setdefault(p['id'], {})[t] = p['keypoints']
    for frames in seen.values():
        for t in frames:
            if t - 1 in frames and t - 2 in frames:
                acc.append(np.linalg.norm(
                    frames[t] - 2 * frames[t - 1] + frames[t - 2],
                    axis=-1).mean())
    return float(np.mean(acc))


def smoothed(runs, fps, min_cutoff, beta):
    """The tracker's results One-Euro filtered as ``smooth=True`` does
    (a new filter when a track starts or comes back)."""
    import copy

    from vitpose_runtime.smoothing import OneEuroFilter
    filters, out = {}, []
    for t, frame in enumerate(runs):
        frame = copy.copy(frame)
        frame.keypoints = frame.keypoints.copy()
        for i, tid in enumerate(frame.track_ids):
            last = filters.get(int(tid))
            if last is None or last[1] != t - 1:
                last = (OneEuroFilter(min_cutoff, beta), t)
            frame.keypoints[i] = last[0](frame.keypoints[i], t / fps)
            filters[int(tid)] = (last[0], t)
        out.append(frame)
    return out


def gt_runs(gt, rng, sigma):
    """The ground truth as tracker results, keypoints plus N(0, sigma)."""
    from vitpose_runtime.tracking import TrackedFrame
    out = []
    for t, frame in enumerate(gt):
        n = len(frame)
        kpts = np.array([p['keypoints'] for p in frame]).reshape(n, 17, 2)
        out.append(TrackedFrame(
            t, np.array([np.r_[p['box'], 1.] for p in frame]).reshape(n, 5),
            kpts + rng.normal(0, sigma, kpts.shape), np.ones((n, 17)),
            np.array([p['id'] for p in frame], np.int64), True))
    return out


def part_smooth(models, clips):
    from vitpose_runtime.smoothing import BETA, MIN_CUTOFF
    print('\n## Smoothing (One-Euro; jitter: mean |second difference|, '
          'px/frame^2; error: mean px to visible ground-truth keypoints)\n')
    raw = {}
    for name, clip in clips.items():
        raw[name] = run_tracker(models.tracker(fps=clip.fps),
                                clip.frames)[0]
        print(f'{name}: ground truth\'s own second difference '
              f'{gt_jitter(clip.gt):.2f}; raw jitter '
              f'{jitter(raw[name]):.2f}, error '
              f'{keypoint_error(clip.gt, raw[name]):.2f}')
    print('\n| min_cutoff (Hz) | beta (1/px) | ' + ' | '.join(
        f'{n}: jitter (change) / error (change)' for n in clips) + ' |')
    print('|---|---|' + '---|' * len(clips))
    for mc in (0.3, 0.5, 1.0, 2.0, 4.0):
        for beta in (0.0, 0.003, 0.01, 0.03, 0.1):
            cells = []
            for name, clip in clips.items():
                j0, e0 = jitter(raw[name]), keypoint_error(clip.gt,
                                                           raw[name])
                s = smoothed(raw[name], clip.fps, mc, beta)
                j, e = jitter(s), keypoint_error(clip.gt, s)
                cells.append(f'{j:.2f} ({100 * (j / j0 - 1):+.0f}%) / '
                             f'{e:.2f} ({100 * (e / e0 - 1):+.0f}%)')
            mark = ' (default)' if (mc, beta) == (MIN_CUTOFF, BETA) else ''
            print(f'| {mc}{mark} | {beta} | ' + ' | '.join(cells) + ' |')
    # a better pose model, simulated: the ground truth plus Gaussian noise
    print('\nThe ground truth plus Gaussian noise (a better pose model, '
          'simulated), composite clip:\n')
    clip = next(iter(clips.values()))
    rng = np.random.default_rng(0)
    grid = [(mc, b) for mc in (0.5, 1.0, 2.0) for b in (0.0, 0.01, 0.03,
                                                       0.1)]
    print('| noise sigma (px) | raw jitter / error | ' + ' | '.join(
        f'{mc} Hz, beta {b}' for mc, b in grid) + ' |')
    print('|---|---|' + '---|' * len(grid))
    for sigma in (2.0, 5.0):
        noisy = gt_runs(clip.gt, rng, sigma)
        j0, e0 = jitter(noisy), keypoint_error(clip.gt, noisy)
        cells = []
        for mc, b in grid:
            s = smoothed(noisy, clip.fps, mc, b)
            e = keypoint_error(clip.gt, s)
            cells.append(f'{100 * (jitter(s) / j0 - 1):+.0f}% / '
                         f'{100 * (e / e0 - 1):+.0f}%')
        print(f'| {sigma} | {j0:.2f} / {e0:.2f} | ' + ' | '.join(cells)
              + ' |')
    # the tracker's own smoothing at the defaults gives the same numbers
    name, clip = next(iter(clips.items()))
    own = run_tracker(models.tracker(fps=clip.fps, smooth=True),
                      clip.frames)[0]
    print(f'\n{name} with PoseTracker(smooth=True) at the defaults: jitter '
          f'{jitter(own):.2f}, error {keypoint_error(clip.gt, own):.2f}')


def real_clip(out: Path) -> Path:
    """60 real frames: ../shared/data/video/demo.mp4 (5 frames, 960x540)
    played forward and back."""
    import cv2

    from vitpose_runtime.video import VideoReader
    frames = [f for _, f in VideoReader(SHARED / 'data/video/demo.mp4')]
    loop = frames + frames[-2:0:-1]
    path = out / 'street60.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'),
                             15, frames[0].shape[1::-1])
    for i in range(60):
        writer.write(loop[i % len(loop)])
    writer.release()
    return path


def part_demo(ckpt, pose_cfg, out):
    """The demo end to end (a subprocess, as a user runs it)."""
    video = real_clip(out)
    print('\n## Demo end to end (60 real frames of ../shared/data/video/'
          'demo.mp4 played forward and back, 960x540)\n')
    for extra in (['--sequential'], [], ['--det-interval', '5'],
                  ['--no-render']):
        cmd = [sys.executable, '-m', 'vitpose_mm.tools.demo', '--input',
               str(video), '--pose-config', str(pose_cfg),
               '--pose-checkpoint', str(ckpt), '--det-config', DET_CFG,
               '--det-checkpoint', str(DET_CKPT), '--device', 'cpu',
               '--output-dir', str(out / 'demo'), *extra]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() + proc.stderr.splitlines()
                if 'frames/s' in x]
        said = (line[-1].split(' - INFO - ')[-1] if line else
                proc.stderr[-500:])
        print(f'- `{" ".join(extra) or "(default: threads)"}`: {said}',
              flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--parts', default='ids,interval,smooth,demo')
    parser.add_argument('--pose-config', default=str(POSE_CFG))
    parser.add_argument('--pose-checkpoint')
    parser.add_argument('--out', default=str(REPO / 'outputs' / 'video'))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = args.pose_checkpoint or train_pose(out)
    from mmpose.utils import register_all_modules
    register_all_modules()
    models = Models(args.pose_config, ckpt)
    clip = make_clip(COCO)
    clips = {'composite': clip, 'mirrored': mirrored(clip)}
    parts = args.parts.split(',')
    print(f'pose checkpoint {ckpt}; detector {DET_CFG}; torch threads '
          f'{__import__("torch").get_num_threads()}')
    if 'ids' in parts:
        part_ids(models, clips)
    if 'interval' in parts:
        part_interval(models, clip)
    if 'smooth' in parts:
        part_smooth(models, clips)
    if 'demo' in parts:
        part_demo(ckpt, args.pose_config, out)


if __name__ == '__main__':
    main()
