"""Composite test videos with ground-truth identities and keypoints.

Real people of the shared tiny COCO set (``../shared/data/coco``), cut out
by their polygon masks (``test_coco.json``), walk over a synthetic
background: two cross (the one in front hides the other partly), a third
enters late and is fully hidden behind a pillar for about 8 frames. Each
person moves on a smooth path (straight line plus a small vertical bob),
drawn with sub-pixel bilinear warps, so the ground-truth keypoints (their
COCO keypoints moved the same way) have no jitter: any jitter in the
estimates comes from the detector and the pose model. The default is the
layout of issue 23's held-back clip (960x540, 15 fps, 60 frames); ``scale``
shrinks it for tests.

Ground truth per frame and person: ``id`` (0, 1, 2), ``box`` (the COCO box
moved, xyxy pixels), ``keypoints`` (17, 2), ``labelled`` (17,) COCO
``v > 0``, ``visible`` (17,) labelled and not covered, and ``visibility``
(fraction of the person's mask not covered). A person is listed on a frame
when ``visibility >= MIN_VISIBILITY``; fully hidden people are not.

NOTE: the pose models of the benchmarks are trained on these same 14 COCO
people (``../shared/data/coco`` is all the data there is), so their
keypoints here are better than on unseen people; identity metrics compare
trackers on the same poses, which keeps them fair to each other.
"""
import dataclasses
import json
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

#: A person is in the ground truth of a frame when this much of their mask
#: is visible.
MIN_VISIBILITY = 0.1


@dataclasses.dataclass
class Walker:
    """One person's path: COCO annotation id, height in pixels (at
    scale 1), feet y, x of the box's left edge at ``start`` and its speed
    (pixels per frame), the first frame on screen, the z-order (larger in
    front)."""
    ann_id: int
    height: float
    feet: float
    x0: float
    speed: float
    start: int = 0
    z: int = 0


#: The held-back clip's layout: A (front) walks right, B walks left
#: behind A (they cross near frame 42), C enters from the left at frame 8
#: and is fully hidden behind the pillar on frames 37-44.
WALKERS = (Walker(442619, 330, 520, 60, 10, 0, 2),
           Walker(543117, 300, 470, 760, -6, 0, 0),
           Walker(531914, 280, 455, -125, 9, 8, -1))
#: The pillar (x1, x2) at scale 1: in front of B and C, behind A.
PILLAR = (130, 322)
PILLAR_Z = 1


@dataclasses.dataclass
class Clip:
    """Frames (BGR uint8) and their ground truth (module docstring)."""
    frames: List[np.ndarray]
    gt: List[List[dict]]
    fps: float

    def save(self, path: Path) -> Path:
        """Write the frames as an mp4 (mp4v) and the ground truth beside it
        (``<stem>.gt.json``)."""
        h, w = self.frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'),
                                 self.fps, (w, h))
        for frame in self.frames:
            writer.write(frame)
        writer.release()
        gt = [[{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in p.items()} for p in frame] for frame in self.gt]
        Path(path).with_suffix('.gt.json').write_text(json.dumps(gt))
        return Path(path)


def cutout(coco: Path, ann_id: int):
    """(image crop (h, w, 3), mask (h, w) float32, keypoints (17, 3) and
    box (x1, y1, x2, y2) in crop pixels) of one COCO person."""
    data = json.loads((Path(coco) / 'test_coco.json').read_text())
    ann = next(a for a in data['annotations'] if a['id'] == ann_id)
    info = next(i for i in data['images'] if i['id'] == ann['image_id'])
    img = cv2.imread(str(Path(coco) / info['file_name']))
    mask = np.zeros(img.shape[:2], np.uint8)
    for poly in ann['segmentation']:
        pts = np.round(np.asarray(poly).reshape(-1, 2)).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1)
    x, y, w, h = ann['bbox']
    x1, y1 = int(max(x - 2, 0)), int(max(y - 2, 0))
    x2 = int(min(x + w + 2, img.shape[1]))
    y2 = int(min(y + h + 2, img.shape[0]))
    kpts = np.asarray(ann['keypoints'], np.float64).reshape(-1, 3)
    kpts[:, :2] -= (x1, y1)
    box = np.array([x - x1, y - y1, x - x1 + w, y - y1 + h])
    return (img[y1:y2, x1:x2], mask[y1:y2, x1:x2].astype(np.float32), kpts,
            box)


def background(size, seed: int) -> np.ndarray:
    """A smooth, muted (H, W, 3) background: low-frequency noise, a
    lighter ground below the horizon, fine grain."""
    w, h = size
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(70, 190, (6, 10, 3)).astype(np.float32)
    coarse = 0.4 * coarse + 0.6 * coarse.mean(-1, keepdims=True)  # muted
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img[int(h * 0.62):] = img[int(h * 0.62):] * 0.6 + 80
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_clip(coco: Path, scale: float = 1.0, fps: float = 15.,
              num_frames: int = 60, seed: int = 0,
              walkers: Sequence[Walker] = WALKERS,
              pillar: Optional[Sequence[float]] = PILLAR) -> Clip:
    """Render the composite clip (module docstring).

    Args:
        coco (Path): The tiny COCO folder (test_coco.json and images).
        scale (float): 1 for 960x540; 0.5 for 480x270, ...
        fps (float): Frame rate written to the mp4.
        num_frames (int): Frames.
        seed (int): Background noise.
        walkers (Sequence[Walker]): The people.
        pillar (Sequence[float], optional): x1, x2 of the pillar; None for
            no pillar.
    """
    size = (int(round(960 * scale)), int(round(540 * scale)))
    w, h = size
    bg = background(size, seed).astype(np.float32)
    people = [(p, *cutout(coco, p.ann_id)) for p in walkers]
    pillar_mask = np.zeros((h, w), np.float32)
    pillar_img = np.zeros((h, w, 3), np.float32)
    if pillar is not None:
        x1, x2 = (int(round(v * scale)) for v in pillar)
        pillar_mask[:, x1:x2] = 1
        shade = 150 + 30 * np.sin(np.arange(x2 - x1) / 6.)
        pillar_img[:, x1:x2] = shade[None, :, None] * np.array([0.9, 1., 1.1])
    frames, gt = [], []
    for f in range(num_frames):
        layers = []  # (z, image, alpha, record or None)
        if pillar is not None:
            layers.append((PILLAR_Z, pillar_img, pillar_mask, None))
        for pid, (p, crop, mask, kpts, box) in enumerate(people):
            if f < p.start:
                continue
            s = p.height * scale / (box[3] - box[1])
            tx = (p.x0 + p.speed * (f - p.start)) * scale - box[0] * s
            bob = 3 * np.sin(2 * np.pi * f / 8 + pid)
            ty = (p.feet + bob) * scale - box[3] * s
            mat = np.array([[s, 0, tx], [0, s, ty]], np.float32)
            img = cv2.warpAffine(crop.astype(np.float32), mat, size,
                                 flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(mask, mat, size, flags=cv2.INTER_LINEAR)
            moved = kpts.copy()
            moved[:, :2] = kpts[:, :2] * s + (tx, ty)
            record = dict(id=pid, box=np.array([box[0] * s + tx,
                                                box[1] * s + ty,
                                                box[2] * s + tx,
                                                box[3] * s + ty]),
                          keypoints=moved[:, :2], labelled=kpts[:, 2] > 0,
                          area=float(mask.sum() * s * s))
            layers.append((p.z, img, alpha, record))
        layers.sort(key=lambda layer: layer[0])
        out = bg.copy()
        for _, img, alpha, _ in layers:
            out = out * (1 - alpha[..., None]) + img * alpha[..., None]
        people_gt = []
        for i, (_, _, alpha, rec) in enumerate(layers):
            if rec is None:
                continue
            cover = np.zeros((h, w), np.float32)
            for _, _, front, _ in layers[i + 1:]:
                cover = np.maximum(cover, front)
            seen = (alpha * (1 - cover)).sum() / max(rec['area'], 1.)
            xy = np.round(rec['keypoints']).astype(int)
            inside = ((xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0)
                      & (xy[:, 1] < h))
            covered = np.ones(len(xy), bool)
            covered[inside] = cover[xy[inside, 1], xy[inside, 0]] > 0.5
            rec = dict(rec, visibility=float(seen),
                       visible=rec['labelled'] & ~covered)
            rec.pop('area')
            if seen >= MIN_VISIBILITY:
                people_gt.append(rec)
        frames.append(np.clip(out, 0, 255).astype(np.uint8))
        gt.append(sorted(people_gt, key=lambda r: r['id']))
    return Clip(frames, gt, fps)


def load_gt(path: Path) -> List[List[dict]]:
    """The ground truth :meth:`Clip.save` wrote (arrays as numpy)."""
    frames = json.loads(Path(path).with_suffix('.gt.json').read_text())
    return [[{k: np.asarray(v) if isinstance(v, list) else v
              for k, v in p.items()} for p in frame] for frame in frames]
