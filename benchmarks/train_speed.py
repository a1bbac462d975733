"""Training-step speed and memory: vitpose_mm versus mmpose + mmpretrain.

One step is ``model.loss`` (forward, UDP-heatmap MSE), ``backward`` and an
``AdamW`` update, on a synthetic batch of 256x192 crops with random target
heatmaps (the data pipeline is not timed). Both implementations are built
from their own shipped configs (ours: ``configs/.../coco``; mmpose's:
``mmpose::.../td-hm_ViTPose-*``, mmpretrain ``VisionTransformer``) with the
same weights, classic decoder, drop path as configured, and are stepped
round-robin (interleaved); the table gives the median seconds per image
over ``--steps`` steps after ``--warmup`` steps, and the speed-up over
mmpose.

``--optimizer`` picks the update: ``config`` (default) builds each
implementation's optimizer wrapper from its own config, as the runner does
(layer-wise lr decay groups, gradient clipping; ours asks for torch's fused
AdamW kernel, mmpose's for the for-loop one); ``adamw`` and ``fused`` use one
plain ``torch.optim.AdamW`` (for-loop or fused) over all parameters in
every implementation, to compare the models alone.
``act MiB`` is the peak memory one step adds to the process
(resident memory sampled every millisecond; weights, gradients and AdamW
state exist before the step), also for our backbone with
``use_checkpoint=True`` (``ours-ckpt``; mmpretrain's ViT has no
activation checkpointing).

Examples::

    .venv/bin/python benchmarks/train_speed.py                # S and B, 16
    .venv/bin/python benchmarks/train_speed.py --sizes S --batch 4 \\
        --steps 3

Needs mmpretrain for ``mmpose`` (requirements/benchmarks.txt).
"""
import argparse
import json
import os
import statistics
import sys
from typing import Callable, Dict, List

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tables import markdown_table  # noqa: E402
from inference_speed import (MMPOSE_CONFIG, OUR_CONFIG,  # noqa: E402
                             SIZES, build_mmpose, build_ours, load_cfg,
                             peak_rss, profile, setup, time_round_robin)

IMPLS = ('mmpose', 'ours', 'ours-ckpt')


def synthetic_batch(batch: int, num_keypoints: int = 17, seed: int = 0):
    """(B, 3, 256, 192) crops and packed samples with random targets."""
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 3, 256, 192, generator=g)
    samples = []
    for _ in range(batch):
        sample = PoseDataSample()
        sample.gt_fields = PixelData(
            heatmaps=torch.rand(num_keypoints, 64, 48, generator=g))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.ones(1, num_keypoints))
        samples.append(sample)
    return inputs, samples


def make_optimizer(model: nn.Module, cfg, mode: str):
    """An mmengine optim wrapper for ``model``: the config's
    ``optim_wrapper`` (``mode='config'``) or a plain AdamW (``'adamw'``,
    ``'fused'``)."""
    from mmengine.optim import OptimWrapper, build_optim_wrapper
    if mode == 'config':
        return build_optim_wrapper(model, cfg.optim_wrapper)
    return OptimWrapper(torch.optim.AdamW(
        model.parameters(), lr=5e-4, weight_decay=0.1,
        fused=True if mode == 'fused' else None))


def make_step(model: nn.Module, samples, optim_wrapper) -> Callable:
    """inputs -> one training step (loss, backward, clip, AdamW) of
    ``model``, as mmengine's ``train_step`` runs it."""
    model.train()

    def step(inputs):
        losses = model.loss(inputs, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim_wrapper.update_params(loss)
        return loss.detach()

    return step


def make_impls(names, size: str, samples,
               optimizer: str = 'config') -> Dict[str, Callable]:
    """{name: one training step} with shared initial weights."""
    ours = build_ours(size, 'classic')
    state = ours.state_dict()
    impls = {}
    for name in names:
        if name == 'mmpose':
            try:
                model = build_mmpose(ours, size, 'classic')
            except ImportError as err:
                print(f'# mmpose skipped: {err}')
                continue
            cfg = load_cfg(MMPOSE_CONFIG.format(size=size, simple=''))
        else:
            model = build_ours(size, 'classic')
            model.load_state_dict(state)
            model.backbone.use_checkpoint = name == 'ours-ckpt'
            cfg = load_cfg(OUR_CONFIG.format(size=size, simple=''))
        impls[name] = make_step(model, samples,
                                make_optimizer(model, cfg, optimizer))
    return impls


def run(args) -> List[dict]:
    rows = []
    for size in args.sizes:
        inputs, samples = synthetic_batch(args.batch)
        impls = make_impls(args.impls, SIZES[size], samples,
                           args.optimizer)
        times = time_round_robin(impls, inputs, args.steps, args.warmup,
                                 inference=False)
        memory = {}
        for name, step in impls.items():
            with peak_rss() as mem:
                step(inputs)
            memory[name] = (mem['peak'] - mem['before']) / 2**20
        per_image = {k: statistics.median(v) / args.batch
                     for k, v in times.items()}
        base = per_image.get('mmpose')
        for name in impls:
            rows.append(dict(
                model=f'ViTPose-{size}', batch=args.batch, impl=name,
                s_per_image=per_image[name],
                speedup=None if base is None else base / per_image[name],
                act_mib=memory[name]))
        print(f'# ViTPose-{size} done', file=sys.stderr, flush=True)
        if args.profile and size == args.sizes[0]:
            print(f'# profile: {args.profile}, ViTPose-{size}, batch '
                  f'{args.batch}')
            print(profile(impls[args.profile], inputs, inference=False))
        del impls
    return rows


def format_table(rows: List[dict]) -> str:
    return markdown_table(
        [('model', 'model', ''), ('batch', 'batch', ''), ('impl', 'impl', ''),
         ('s/image', 's_per_image', '.3f'), ('x mmpose', 'speedup', '.2f'),
         ('act MiB', 'act_mib', '.0f')], rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', default=['S', 'B'],
                        choices=list(SIZES))
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--impls', nargs='+', default=list(IMPLS),
                        choices=list(IMPLS))
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--optimizer', choices=['config', 'adamw', 'fused'],
                        default='config',
                        help="each implementation's configured optimizer "
                        "wrapper (default), or one plain AdamW (for-loop / "
                        'fused) for all')
    parser.add_argument('--threads', type=int)
    parser.add_argument('--profile', metavar='IMPL',
                        help='also print the top ops of one step of IMPL '
                        'at the first size')
    parser.add_argument('--json', help='write the rows to this file')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    setup(args.threads)
    print(f'# torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'optimizer: {args.optimizer}')
    rows = run(args)
    print(format_table(rows))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(rows=rows, args=vars(args)), f, indent=1)


if __name__ == '__main__':
    main()
