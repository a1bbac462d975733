"""The ViTPose simple decoder alone, as mmpose runs it and folded.

``unfolded``: mmpose's ``FeatureMapProcessor`` (ReLU, bilinear x4) and the
head's 3x3 ``nn.Conv2d``; ``folded``:
:class:`vitpose_mm.deploy.simple_decoder.FoldedSimpleDecoder` of the same
two modules. Input: (B, C, H/16, W/16) features in the channels-last
layout the ViT's ``tokens_to_map`` gives, float32; both are timed
round-robin in one run (median ms per call) and their heatmaps compared.

Example::

    .venv/bin/python benchmarks/simple_decoder_speed.py --channels 768 \\
        --batch 8
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))


def main(argv=None) -> None:
    from mmpose.models.necks import FeatureMapProcessor

    from vitpose_mm.deploy.simple_decoder import FoldedSimpleDecoder
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--channels', type=int, default=768,
                        help='C (ViTPose-S 384, B 768, L 1024, H 1280)')
    parser.add_argument('--keypoints', type=int, default=17)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--input', type=int, nargs=2, default=(256, 192),
                        metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=30)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    neck = FeatureMapProcessor(scale_factor=4.0, apply_relu=True)
    conv = nn.Conv2d(args.channels, args.keypoints, 3, padding=1)
    folded = FoldedSimpleDecoder(neck, conv)
    h, w = args.input[0] // 16, args.input[1] // 16
    x = torch.randn(args.batch, h, w, args.channels).permute(0, 3, 1, 2)
    fns = {'unfolded': lambda: conv(neck((x, ))[-1]),
           'folded': lambda: folded((x, ))[0]}
    times = {name: [] for name in fns}
    with torch.inference_mode():
        ref, out = fns['unfolded'](), fns['folded']()
        for _ in range(args.repeats):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    err = float((out - ref).abs().max() / ref.abs().max())
    print(f'# C={args.channels}, K={args.keypoints}, batch {args.batch}, '
          f'{h}x{w} -> {4 * h}x{4 * w}, {torch.get_num_threads()} threads; '
          f'folded vs unfolded: max rel. difference {err:.1e}')
    print('| decoder | ms per call | x unfolded |')
    print('|---|---|---|')
    base = statistics.median(times['unfolded'])
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(f'| {name} | {1e3 * ms:.1f} | {base / ms:.2f} |')


if __name__ == '__main__':
    main()
