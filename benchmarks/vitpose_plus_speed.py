"""ViTPose+-B versus dense ViTPose-B: inference and training-step time.

Both models are built from the shipped configs (ViTPose-B with the classic
decoder, and the six-dataset ViTPose+-B) and timed side by side on the same
random batch: one repeat times each model once, in alternating order, and
the ratio of the medians is printed. Inference is ``predict`` as configured
(flip test, decoding) on a batch of COCO samples, i.e. ViTPose+ with expert
and head 0. A training step is forward, loss, backward and an AdamW step; the
ViTPose+ batch mixes the six datasets in equal parts, each sample with its
own targets (17 / 14 / 16 / 17 / 17 / 133 keypoints), the dense batch is all
COCO. Targets: inference <= 1.05x, training step <= 1.15x.

Each call is timed by the wall clock and by this process's CPU time; on a
shared CPU, where other jobs steal cycles, the CPU-time ratio with
``--threads 1`` is the stable one (both are printed).

    .venv/bin/python benchmarks/vitpose_plus_speed.py \\
        [--batch 12] [--repeats 7] [--threads 1] [--device cpu]
"""
import argparse
import os.path as osp
import statistics
import time
from typing import Callable, List, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DENSE = osp.join(REPO, 'configs/body_2d_keypoint/topdown_heatmap/coco/'
                 'vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py')
PLUS = osp.join(REPO, 'configs/body_2d_keypoint/topdown_heatmap/'
                'vitpose_plus/vitpose-mm_td-hm_ViTPose-plus-base_8xb128-210e_'
                '6datasets-256x192.py')
#: Keypoints per ViTPose+ expert, in RELEASED_DATASETS order
#: (vitpose_mm.checkpoint.experts).
KEYPOINTS = (17, 14, 16, 17, 17, 133)


def build(path: str, device: str) -> torch.nn.Module:
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).to(device)


def samples(indices: List[int], heatmap_hw, input_hw,
            device: str) -> List[PoseDataSample]:
    """Packed samples with targets of each dataset's keypoint count."""
    out = []
    for i in indices:
        k = KEYPOINTS[i]
        data = PoseDataSample(metainfo=dict(
            dataset_index=i, flip_indices=list(range(k)),
            input_size=np.array(input_hw[::-1]),
            input_center=np.array([96., 128.]),
            input_scale=np.array([192., 256.])))
        data.gt_instances = InstanceData(
            bboxes=np.array([[0., 0., 192., 256.]]), bbox_scores=np.ones(1))
        data.gt_fields = PixelData(
            heatmaps=torch.rand(k, *heatmap_hw, device=device))
        data.gt_instance_labels = InstanceData(
            keypoint_weights=torch.ones(1, k, device=device))
        out.append(data)
    return out


Timed = Callable[[], Tuple[float, float]]


def timer(fn: Callable[[], None], device: str) -> Timed:
    """``fn`` wrapped to return its (wall, process CPU) seconds."""
    def run() -> Tuple[float, float]:
        if device == 'cuda':
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        return time.perf_counter() - wall, time.process_time() - cpu
    return run


def side_by_side(dense: Timed, plus: Timed, repeats: int, warmup: int,
                 what: str, target: float) -> None:
    """Time ``dense`` and ``plus`` alternately (the order flips at each
    repeat); print the median times and the ratio plus / dense for the
    wall clock and for CPU time."""
    for _ in range(warmup):
        dense(), plus()
    times = {'dense': [], 'plus': []}
    for r in range(repeats):
        order = [('dense', dense), ('plus', plus)]
        for name, fn in (order[::-1] if r % 2 else order):
            times[name].append(fn())
    for clock, column in (('wall', 0), ('cpu', 1)):
        t_dense = statistics.median(t[column] for t in times['dense'])
        t_plus = statistics.median(t[column] for t in times['plus'])
        ratio = t_plus / t_dense
        verdict = 'ok' if ratio <= target else 'MISSED'
        print(f'{what:<10} {clock:<4}: ViTPose-B {t_dense * 1e3:9.1f} ms  '
              f'ViTPose+-B {t_plus * 1e3:9.1f} ms  ratio {ratio:.3f} '
              f'(target <= {target}: {verdict})', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=12,
                        help='a multiple of 6 mixes the datasets evenly')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmpose.utils import register_all_modules
    register_all_modules()
    import vitpose_mm  # noqa: F401

    dense, plus = build(DENSE, args.device), build(PLUS, args.device)
    codec = Config.fromfile(DENSE).codec
    input_hw = tuple(codec.input_size[::-1])
    heatmap_hw = tuple(codec.heatmap_size[::-1])
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.batch, 3, *input_hw, generator=g).to(
        args.device)
    coco = samples([0] * args.batch, heatmap_hw, input_hw, args.device)
    mixed = samples([i % 6 for i in range(args.batch)], heatmap_hw,
                    input_hw, args.device)
    params = lambda model: sum(p.numel() for p in model.parameters())  # noqa
    print(f'ViTPose-B {params(dense) / 1e6:.1f}M params, ViTPose+-B '
          f'{params(plus) / 1e6:.1f}M params; batch {args.batch} at '
          f'{input_hw[0]}x{input_hw[1]}, {args.device}, '
          f'{torch.get_num_threads()} threads, {args.repeats} repeats')

    def infer(model) -> Timed:
        def fn() -> None:
            with torch.no_grad():
                model.predict(inputs, coco)
        return timer(fn, args.device)

    def train_step(model, batch_samples) -> Timed:
        optim = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def fn() -> None:
            losses = model.loss(inputs, batch_samples)
            loss = sum(v for k, v in losses.items() if 'loss' in k)
            optim.zero_grad()
            loss.backward()
            optim.step()
        return timer(fn, args.device)

    dense.eval(), plus.eval()
    side_by_side(infer(dense), infer(plus), args.repeats, args.warmup,
                 'inference', 1.05)
    dense.train(), plus.train()
    side_by_side(train_step(dense, coco), train_step(plus, mixed),
                 args.repeats, args.warmup, 'train step', 1.15)


if __name__ == '__main__':
    main()
