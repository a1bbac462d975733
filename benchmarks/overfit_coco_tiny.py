"""Overfit benchmark: a small ViTPose from random init learns tiny COCO.

The 14 annotated people of ``../shared/data/coco`` (4 images) are both the
training and the evaluation set (ground-truth boxes, flip test, mmpose's
CocoMetric). The run trains the overfit config with mmengine's Runner,
prints COCO AP and the wall time at every validation, stops once AP reaches
the target, and exits 1 if it is not reached within the epochs of the config
or the time limit::

    .venv/bin/python benchmarks/overfit_coco_tiny.py \\
        [--data-root ../shared/data/coco] [--target 0.7] [--time-limit 1800]

This is a benchmark, not a test: it takes minutes to tens of minutes on a
2-core CPU.
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from vitpose_mm.tools.data_root import check_data_files, load_run_config

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(
    REPO, 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
    'vitpose-mm_td-hm_ViTPose-tiny_1xb14-300e_coco-tiny-overfit-128x96.py')


class TargetAPHook(Hook):
    """Record COCO AP and wall time after each validation; stop training
    when AP reaches ``target`` (unless ``stop`` is False) or when
    ``time_limit`` seconds have passed."""

    priority = 'LOWEST'

    def __init__(self,
                 target: float,
                 time_limit: float,
                 stop: bool = True) -> None:
        self.target = target
        self.time_limit = time_limit
        self.stop = stop
        self.start = time.monotonic()
        self.curve: List[Dict[str, float]] = []

    def after_val_epoch(self,
                        runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if not metrics or 'coco/AP' not in metrics:
            return
        elapsed = time.monotonic() - self.start
        ap = float(metrics['coco/AP'])
        self.curve.append(dict(epoch=runner.epoch, ap=ap, seconds=elapsed))
        print(
            f'[overfit] epoch {runner.epoch:4d}  coco/AP {ap:.4f}  '
            f'wall {elapsed:7.1f} s',
            flush=True)
        if (self.stop and ap >= self.target) or elapsed > self.time_limit:
            runner.train_loop.stop_training = True

    @property
    def best(self) -> float:
        return max((p['ap'] for p in self.curve), default=0.)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root',
        default=os.environ.get(
            'COCO_TINY',
            osp.normpath(osp.join(REPO, '..', 'shared', 'data', 'coco'))),
        help='folder of test_coco.json and its images (default: $COCO_TINY '
        'or <repo>/../shared/data/coco)')
    parser.add_argument('--config', default=CONFIG, help='overfit config')
    parser.add_argument(
        '--work-dir', default=osp.join(REPO, 'outputs', 'overfit_coco_tiny'))
    parser.add_argument(
        '--target', type=float, default=0.7, help='COCO AP to reach')
    parser.add_argument(
        '--time-limit',
        type=float,
        default=1800.,
        help='seconds; the run stops and fails after this')
    parser.add_argument(
        '--full',
        action='store_true',
        help='train all epochs of the config, even after '
        'the target is reached')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        default={},
        help='override config keys (model size, lr, epochs ...)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = load_run_config(
        args.config,
        dict(
            data_root=osp.join(args.data_root, ''),
            work_dir=args.work_dir,
            randomness=dict(seed=args.seed),
            **args.cfg_options))
    check_data_files(cfg,
                     ('train_dataloader', 'val_dataloader', 'val_evaluator'))
    hook = TargetAPHook(args.target, args.time_limit, stop=not args.full)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(hook)
    runner.train()
    total = time.monotonic() - hook.start
    print('[overfit] AP curve (epoch: AP @ wall s): ' +
          ', '.join(f"{p['epoch']}: {p['ap']:.3f} @ {p['seconds']:.0f}"
                    for p in hook.curve))
    reached = any(p['ap'] >= args.target and p['seconds'] <= args.time_limit
                  for p in hook.curve)
    print(
        f'[overfit] best coco/AP {hook.best:.4f} (target {args.target}), '
        f'total wall time {total:.0f} s (limit {args.time_limit:.0f} s): '
        f"{'PASS' if reached else 'FAIL'}",
        flush=True)
    return 0 if reached else 1


if __name__ == '__main__':
    sys.exit(main())
