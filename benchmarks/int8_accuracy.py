"""Precision accuracy: COCO AP and keypoint shift against fp32 of bf16,
fp16 and int8, PyTorch and onnxruntime, on a trained model.

The model is the main job's ViTPose (coco_tiny config, 128x96) trained by
``benchmarks/overfit_coco_tiny.py`` (pass its checkpoint); the test set is
the config's (the 14 people of ``../shared/data/coco``, ground-truth
boxes, flip test on), scored by mmpose's ``CocoMetric``. Four paths run
the same crops:

| row | model |
| --- | --- |
| `torch fp32` | the eager PyTorch model |
| `torch bf16`, `torch fp16` | ``init_pose_model(..., precision='bf16' / 'fp16')`` (``--precisions``; fp16 only where the CPU runs it natively) |
| `torch int8` | ``init_pose_model(..., precision='int8')`` (dynamic int8 linear layers) |
| `torch int8-static` | the backbone by :func:`vitpose_mm.deploy.static_int8.quantize_static_int8` (PT2E, linear layers, compiled), calibrated on the test crops (no flip), attention fp32; head fp32 (``--static``) |
| `torch int8-static bf16-attn` | the same with the attention product in bf16 (``attention='bf16'``, what ``'auto'`` picks where the CPU has native bf16; ``--static`` on such CPUs) |
| `ort fp32` | ``export_onnx`` file run by onnxruntime |
| `ort int8` | ``export_onnx --int8`` file |
| `ort int8-static` | the ``ort fp32`` file through :func:`vitpose_mm.deploy.int8.quantize_onnx_static_int8` (static QDQ, per-channel weights), calibrated on the test crops (``--static``) |

The shift is the distance in image pixels between a keypoint of an int8
row and the same keypoint of the fp32 row of the same runtime (all 17
keypoints of every person). Targets (issue 12): AP drop <= 0.01, median
shift <= 0.5 px; ``--precision auto`` takes a precision only where the 99th
percentile is within 0.5 px (:mod:`vitpose_runtime.precision`, whose table
holds this script's numbers).

Example::

    .venv/bin/python benchmarks/overfit_coco_tiny.py --work-dir W \\
        --cfg-options default_hooks.checkpoint.interval=10
    .venv/bin/python benchmarks/int8_accuracy.py W/epoch_N.pth
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tables import markdown_table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get('VITPOSE_MM_SHARED', REPO.parent / 'shared'))
CONFIG = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
          'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')


def evaluate(model, cfg):
    """(COCO AP, (N, K, 2) keypoints in image pixels) of ``model`` on the
    config's test set."""
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    keypoints = []
    with torch.no_grad():
        for batch in loader:
            outputs = model.test_step(batch)
            keypoints += [o.pred_instances.keypoints[0] for o in outputs]
            evaluator.process(data_samples=outputs, data_batch=batch)
    metrics = evaluator.evaluate(len(loader.dataset))
    return metrics['coco/AP'], np.stack(keypoints)


def calibration_crops(cfg, model):
    """(N, 3, H, W) crops of the config's test set, preprocessed by
    ``model`` (one pass, no flip): the calibration set of both static int8
    paths."""
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(cfg.test_dataloader)
    with torch.no_grad():
        return torch.cat([model.data_preprocessor(batch)['inputs']
                          for batch in loader])


def static_int8_model(cfg, checkpoint, crops, attention='fp32'):
    """The eager model with its backbone statically quantised, calibrated
    on ``crops`` (:func:`calibration_crops`), attention in ``attention``."""
    from vitpose_mm.apis import init_pose_model
    from vitpose_mm.deploy.static_int8 import quantize_static_int8
    model = init_pose_model(cfg, checkpoint, fast=False)
    backbone = quantize_static_int8(model.backbone, crops,
                                    attention=attention)

    def extract_feat(inputs):
        feats = backbone(inputs)
        return model.neck(feats) if model.with_neck else feats

    model.extract_feat = extract_feat
    return model


def run(args) -> list:
    from vitpose_mm.apis import init_pose_model
    from vitpose_mm.tools.data_root import load_run_config
    from vitpose_mm.tools.export_onnx import main as export
    cfg = load_run_config(str(args.config),
                      dict(data_root=str(SHARED / 'data/coco') + '/'))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = init_pose_model(cfg, args.checkpoint, fast=False)
        results['torch fp32'] = evaluate(fp32, cfg)
        crops = calibration_crops(cfg, fp32) if args.static else None
        for precision in args.precisions:
            results[f'torch {precision}'] = evaluate(init_pose_model(
                cfg, args.checkpoint, precision=precision), cfg)
        if args.static:
            from vitpose_runtime.precision import (cpu_flags,
                                                   native_precisions)
            results['torch int8-static'] = evaluate(
                static_int8_model(cfg, args.checkpoint, crops), cfg)
            if 'bf16' in native_precisions(cpu_flags()):
                results['torch int8-static bf16-attn'] = evaluate(
                    static_int8_model(cfg, args.checkpoint, crops, 'bf16'),
                    cfg)
        for name, extra in (('ort fp32', []), ('ort int8', ['--int8'])):
            out = str(Path(tmp) / f'{name.split()[1]}.onnx')
            export([str(args.config), args.checkpoint, out, *extra])
            results[name] = evaluate(init_pose_model(None, out), cfg)
        if args.static:
            from vitpose_mm.deploy.int8 import quantize_onnx_static_int8
            out = str(Path(tmp) / 'int8-static.onnx')
            quantize_onnx_static_int8(str(Path(tmp) / 'fp32.onnx'), out,
                                      crops)
            results['ort int8-static'] = evaluate(
                init_pose_model(None, out), cfg)
    rows = []
    for name, (ap, kpts) in results.items():
        ref_ap, ref = results[name.split()[0] + ' fp32']
        shift = np.linalg.norm(kpts - ref, axis=-1).ravel()
        rows.append(dict(row=name, ap=ap, drop=ref_ap - ap,
                         median=float(np.median(shift)),
                         p95=float(np.percentile(shift, 95)),
                         p99=float(np.percentile(shift, 99)),
                         max=float(shift.max())))
    print(f'# {Path(args.checkpoint).name}: {len(ref)} people, flip test, '
          f'torch {torch.__version__} ({torch.backends.quantized.engine} '
          f'int8), CPU capability {torch.backends.cpu.get_cpu_capability()}')
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help='trained checkpoint of --config')
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--precisions', nargs='+',
                        default=['bf16', 'int8'],
                        choices=['bf16', 'fp16', 'int8'],
                        help='torch rows besides fp32')
    parser.add_argument('--static', action='store_true',
                        help='also the static int8 (PT2E) row (compiles: '
                        'about a minute)')
    args = parser.parse_args(argv)
    from mmengine.logging import MMLogger
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel('ERROR')
    rows = run(args)
    print(markdown_table(
        [('path', 'row', ''), ('COCO AP', 'ap', '.4f'),
         ('AP drop vs fp32', 'drop', '.4f'),
         ('median shift px', 'median', '.3f'),
         ('p95 shift px', 'p95', '.3f'), ('p99 shift px', 'p99', '.3f'),
         ('max shift px', 'max', '.2f')],
        rows))
    worst = [r for r in rows if 'fp32' not in r['row']
             and (r['drop'] > 0.01 or r['median'] > 0.5)]
    return 1 if worst else 0


if __name__ == '__main__':
    sys.exit(main())
