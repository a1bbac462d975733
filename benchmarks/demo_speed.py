"""Whole-image demo speed: person detector + ViTPose, frames per second.

Runs what ``python -m vitpose_mm.tools.demo`` runs for each image (YOLOX
detection, then every person box through the pose model in one batch,
flip test as configured; no rendering, no file output) on the real images
of ``../shared/data/coco``, for each pose path of the demo:

| row | pose model |
| --- | --- |
| `eager` | ``init_pose_model(..., fast=False)``: plain PyTorch fp32 (``--eager``) |
| `fast` | ``init_pose_model(...)``: the default fast path, fp32 |
| `bf16` | ``init_pose_model(..., precision='bf16')`` (``--precision bf16``) |
| `int8` | ``init_pose_model(..., precision='int8')`` (``--precision int8``: dynamic int8 linear layers) |
| `ort` | the model exported to ONNX, run by onnxruntime (``.onnx`` checkpoint) |
| `runtime` | ``projects/vitpose_runtime``: the same ONNX file and the YOLOX-Nano ONNX file, numpy + OpenCV + onnxruntime only |

The pose model is the shipped ViTPose config (``--size``, classic decoder,
256x192) with seeded random weights (no pretrained ViTPose weights exist
here; speed does not depend on them); the detector is the real YOLOX-Nano
of ``../shared/weights`` (mmdet; the ``runtime`` row runs its ONNX twin,
whose boxes agree to 0.5 px), so the number of people per image is real. The
paths are interleaved image by image; the table gives the median over
``--repeats`` passes over the images of frames/s, and the detector's and
the pose model's share of the time per frame.

Example::

    .venv/bin/python benchmarks/demo_speed.py --size B --repeats 3
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict

import torch
from tables import markdown_table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('VITPOSE_MM_SHARED', REPO.parent / 'shared'))
DET_CFG = 'mmdet::yolox/yolox_nano_8xb8-300e_coco.py'
POSE_CFG = ('configs/body_2d_keypoint/topdown_heatmap/coco/'
            'vitpose-mm_td-hm_ViTPose-{size}_8xb64-210e_coco-256x192.py')
SIZES = {'S': 'small', 'B': 'base', 'L': 'large', 'H': 'huge'}
PATHS = ('eager', 'fast', 'bf16', 'int8', 'ort', 'runtime')


def pose_models(size: str, paths, folder: Path) -> Dict[str, torch.nn.Module]:
    """{path: pose model} sharing one seeded random checkpoint."""
    from mmpose.apis import init_model

    from vitpose_mm.apis import init_pose_model
    config = str(REPO / POSE_CFG.format(size=SIZES[size]))
    torch.manual_seed(0)
    ckpt = folder / 'pose.pth'
    torch.save(init_model(config, None, device='cpu').state_dict(), ckpt)
    models = {}
    onnx_file = folder / 'pose.onnx'
    for path in paths:
        if path in ('ort', 'runtime'):
            try:
                if not onnx_file.exists():
                    from vitpose_mm.tools.export_onnx import main as export
                    export([config, str(ckpt), str(onnx_file),
                            '--no-verify'])
            except ImportError as err:
                print(f'# {path} skipped: {err}', file=sys.stderr)
                continue
            if path == 'runtime':
                sys.path.insert(0, str(REPO / 'projects/vitpose_runtime'))
                from vitpose_runtime import PoseModel
                models[path] = PoseModel(str(onnx_file))
            else:
                models[path] = init_pose_model(None, str(onnx_file))
        else:
            models[path] = init_pose_model(
                config, str(ckpt), fast=path != 'eager',
                precision=path if path in ('bf16', 'int8') else 'fp32')
    return models


def run(args) -> list:
    from vitpose_mm.apis import (detect_people, estimate_poses,
                                 init_person_detector, list_inputs,
                                 read_image)
    _, files = list_inputs(str(SHARED / 'data/coco'))
    images = [read_image(f) for f in files]
    detector = init_person_detector(
        DET_CFG, str(SHARED / 'weights/yolox_nano_coco_mmdet.pth'))
    with tempfile.TemporaryDirectory() as tmp:
        models = pose_models(args.size, args.paths, Path(tmp))
        steps = {p: (lambda img: detect_people(detector, img),
                     lambda img, boxes, m=m: estimate_poses(m, img, boxes))
                 for p, m in models.items()}
        if 'runtime' in models:
            from vitpose_runtime import YoloxDetector
            yolox = YoloxDetector(str(SHARED / 'weights/yolox_nano_coco.onnx'))
            steps['runtime'] = (yolox.people, models['runtime'])
        stages: Dict[str, Dict[str, list]] = {
            p: dict(det=[], pose=[]) for p in models}
        people = 0
        for rep in range(args.warmup + args.repeats):
            for img in images:
                for path, (detect, pose) in steps.items():
                    start = time.perf_counter()
                    boxes = detect(img)
                    mid = time.perf_counter()
                    if len(boxes):
                        pose(img, boxes)
                    end = time.perf_counter()
                    if rep >= args.warmup:
                        stages[path]['det'].append(mid - start)
                        stages[path]['pose'].append(end - mid)
                if rep == 0:
                    people += len(boxes)
    rows = []
    per_pass = len(images)
    for path, times in stages.items():
        passes = [sum(times['det'][i:i + per_pass])
                  + sum(times['pose'][i:i + per_pass])
                  for i in range(0, len(times['det']), per_pass)]
        seconds = statistics.median(passes) / per_pass
        det = statistics.mean(times['det'])
        pose = statistics.mean(times['pose'])
        rows.append(dict(path=path, fps=1 / seconds, det_ms=det * 1e3,
                         pose_ms=pose * 1e3))
    base = {r['path']: r['fps'] for r in rows}.get('eager')
    for r in rows:
        r['speedup'] = None if base is None else r['fps'] / base
    print(f'# ViTPose-{args.size} (classic decoder, flip test) + '
          f'YOLOX-Nano, {len(images)} images, {people} people, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads')
    return rows


def format_table(rows) -> str:
    return markdown_table(
        [('pose path', 'path', ''), ('frames/s', 'fps', '.2f'),
         ('x eager', 'speedup', '.2f'), ('detector ms/frame', 'det_ms', '.0f'),
         ('pose ms/frame', 'pose_ms', '.0f')], rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', choices=list(SIZES), default='B')
    parser.add_argument('--paths', nargs='+', choices=PATHS,
                        default=list(PATHS))
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int)
    args = parser.parse_args(argv)
    if not (SHARED / 'weights/yolox_nano_coco_mmdet.pth').is_file():
        raise SystemExit(f'{SHARED}/weights/yolox_nano_coco_mmdet.pth not '
                         'found: set VITPOSE_MM_SHARED')
    from mmengine.logging import MMLogger
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel('ERROR')
    if args.threads:
        torch.set_num_threads(args.threads)
    print(format_table(run(args)))


if __name__ == '__main__':
    main()
