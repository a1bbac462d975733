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
  2, 5, 10, with YOLOX-Nano and with a heavier mmdet detector (Faster
  R-CNN R-50-FPN, random weights: timing only; its N = 1 boxes are
  YOLOX's, so agreement is not measured for it);
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
HEAVY_DET_CFG = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
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


if __name__ == '__main__':
    main()
