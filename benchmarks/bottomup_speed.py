"""Bottom-up inference speed: ViTPose-S/B (AE) against mmpose's own
DEKR-HRNet-w32 and CID-HRNet-w32, all at 512x512, in one run.

Every model is built from its config with random weights (nothing is
downloaded: the HRNet and rescore-net ``init_cfg`` are never run) and timed
on the same random (1, 3, H, W) image, one image per call as a bottom-up
demo runs, calls interleaved round-robin (``time_round_robin`` of
``benchmarks/inference_speed.py``). The timed call is the network of each
method, ``model._forward``: backbone, neck and head up to its output maps
(for CID that includes its instance-aware sampling, which is part of its
head's forward); flip test and grouping / decoding are left out, since they
depend on what the weights predict. ``peak MiB`` is the rise of this
process's resident memory during one call (``peak_rss`` of the same file).
Window rows are ViTPose with ``attn_types`` alternating ``window`` /
``shift_window`` (8x8-token windows, ViTPose Sec. 3.3) in every block::

    .venv/bin/python benchmarks/bottomup_speed.py \\
        [--size 512] [--repeats 10] [--warmup 2] [--threads N] \\
        [--models vitpose-s vitpose-b ...]

A benchmark, not a test. Say next to any number whether the machine was
quiet and which CPU it ran on.
"""
import argparse
import os.path as osp
import statistics
import sys
from typing import Callable, Dict, List, Optional

import torch
from mmpose.registry import MODELS
from mmpose.utils import register_all_modules

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from inference_speed import peak_rss, time_round_robin  # noqa: E402
from tables import markdown_table  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
AE = osp.join(REPO, 'configs/body_2d_keypoint/associative_embedding/coco/'
              'vitpose-mm_ae_ViTPose-{}_8xb32-300e_coco-512x512.py')
#: name -> (config, backbone overrides)
WINDOW = dict(attn_types=['window', 'shift_window'] * 6, window_size=8)
MODELS_TO_TIME = {
    'vitpose-s': (AE.format('small'), {}),
    'vitpose-b': (AE.format('base'), {}),
    'vitpose-s-window': (AE.format('small'), WINDOW),
    'vitpose-b-window': (AE.format('base'), WINDOW),
    'dekr-hrnet-w32': ('mmpose::body_2d_keypoint/dekr/coco/'
                       'dekr_hrnet-w32_8xb10-140e_coco-512x512.py', None),
    'cid-hrnet-w32': ('mmpose::body_2d_keypoint/cid/coco/'
                      'cid_hrnet-w32_8xb20-140e_coco-512x512.py', None),
}


def build(name: str, size: int) -> torch.nn.Module:
    """The model of ``name`` in eval mode, random weights, input ``size``."""
    from vitpose_mm.apis import load_config  # reads 'mmpose::' paths too
    path, backbone = MODELS_TO_TIME[name]
    cfg = load_config(path)
    if backbone is not None:  # ours: input size and attention type
        cfg.model.backbone.update(img_size=(size, size), **backbone)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).eval()


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512,
                        help='square input side in pixels')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch\'s)')
    parser.add_argument('--models', nargs='+', default=list(MODELS_TO_TIME),
                        choices=list(MODELS_TO_TIME))
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    import vitpose_mm  # noqa: F401
    models = {name: build(name, args.size) for name in args.models}
    x = torch.randn(1, 3, args.size, args.size)
    fns: Dict[str, Callable] = {name: m._forward
                                for name, m in models.items()}
    memory = {}
    with torch.inference_mode():
        for name, fn in fns.items():
            fn(x)  # first call: allocations, oneDNN primitives
            with peak_rss() as rss:
                fn(x)
            memory[name] = (rss['peak'] - rss['before']) / 2**20
    times = time_round_robin(fns, x, args.repeats, args.warmup)
    rows = []
    for name in args.models:
        median = statistics.median(times[name])
        rows.append(dict(
            model=name,
            params=sum(p.numel() for p in models[name].parameters()) / 1e6,
            ms=median * 1e3, ips=1 / median, mem=memory[name]))
    print(f'input 1x3x{args.size}x{args.size}, {args.repeats} interleaved '
          f'repeats, {torch.get_num_threads()} threads, network only '
          '(no flip test, no grouping)')
    print(markdown_table([('model', 'model', 's'), ('params M', 'params',
                                                    '.1f'),
                          ('ms / image', 'ms', '.0f'),
                          ('images/s', 'ips', '.2f'),
                          ('peak MiB', 'mem', '.0f')], rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
