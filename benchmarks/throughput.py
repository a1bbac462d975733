"""Throughput (images/s) by the protocol of the original ViTPose repo's
``tools/analysis/speed_test.py``, on the CPU or a GPU, as a markdown table.

The protocol (read in ViTAE-Transformer/ViTPose): the model is built from
its config with random weights (``pretrained=None``); flip test, UDP and
post-processing are switched off ("we only care about the forward speed
of the network"); one batch (``--bz``, default 32) is taken and fed again
and again: 100 warm-up calls, then 100 timed calls, the device
synchronised around each; images/s = batch x calls / elapsed seconds.
Each call there is ``model(return_loss=False)``: backbone, head and the
plain arg-max decode without post-processing.

Here, per model and setting: ``--warmup`` calls, then ``--iters`` timed
calls (defaults 100 / 100 as the original; on a CPU pass fewer), each
``model._forward`` (backbone, neck, head: the heatmaps; bottom-up: the
head's output maps) followed by an arg-max over each heatmap and the
copy of the result to the host, the device synchronised before and after
every call. Left out, as in the original: flip test, data loading and
pre-processing, sub-pixel refinement (DARK / UDP post-processing) and, for
bottom-up, grouping. The batch is random (B, 3, H, W) at the config's input
size (the original's one real batch costs the same: nothing here depends on
pixel values); ViTPose+ serves one dataset (expert 0), as a single-dataset
validation loader does.

Settings (one table row each): ``--precisions`` fp32 and/or fp16 / bf16
under ``torch.autocast`` (AMP, as the paper's GPU numbers), ``--compile``
off / on / both (``torch.compile``, default mode), ``--channels-last``
(input and model in NHWC), and ``--fast``: on the CPU, our
``optimize_for_inference(model, precision)`` instead of autocast.

Models: ``S B L H`` (ViTPose, classic decoder, 256x192), ``plus-S
plus-B`` (ViTPose+, 6 experts), ``bottomup-B`` (ViTPose-B with the
associative-embedding head, 512x512), or any top-down / bottom-up config
with ``--config``. The paper's A100 numbers (ViTPose Fig. 1, read off the
plot: S ~1440, B ~950, L ~410, H ~240 images/s; the issue quotes
ViTPose-B at ~944 images/s at batch 64) are printed
beside ours as ``paper A100``.

Examples::

    # CPU, a few minutes: every model at batch 8, fp32 and bf16 AMP
    .venv/bin/python benchmarks/throughput.py --batch 8 --warmup 1 \\
        --iters 3 --precisions fp32 bf16
    # the GPU table (scripts/gpu_throughput.sh runs this)
    python benchmarks/throughput.py --device cuda --batch 64 \\
        --precisions fp32 fp16 bf16 --compile both --channels-last \\
        --markdown throughput_gpu.md

Errors (no CUDA device, an unknown config) end in one line on stderr and
exit status 1.
"""
import argparse
import contextlib
import os
import sys
import time
from typing import Callable, List, Optional

import torch
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tables import markdown_table  # noqa: E402

TOPDOWN = ('configs/body_2d_keypoint/topdown_heatmap/coco/'
           'vitpose-mm_td-hm_ViTPose-{}_8xb64-210e_coco-256x192.py')
PLUS = ('configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/'
        'vitpose-mm_td-hm_ViTPose-plus-{}_8xb128-210e_6datasets-256x192.py')
BOTTOMUP = ('configs/body_2d_keypoint/associative_embedding/coco/'
            'vitpose-mm_ae_ViTPose-{}_8xb32-300e_coco-512x512.py')
MODELS = {
    'S': TOPDOWN.format('small'), 'B': TOPDOWN.format('base'),
    'L': TOPDOWN.format('large'), 'H': TOPDOWN.format('huge'),
    'plus-S': PLUS.format('small'), 'plus-B': PLUS.format('base'),
    'bottomup-B': BOTTOMUP.format('base'),
}
#: images/s on one A100 read off the ViTPose paper's throughput plot
#: (Fig. 1; approximate).
PAPER_A100 = {'S': 1440, 'B': 950, 'L': 410, 'H': 240}
AMP = {'fp16': torch.float16, 'bf16': torch.bfloat16}


class UsageError(Exception):
    """A refusal: printed as one line, exit status 1."""


def build(config: str) -> nn.Module:
    """The config's model, random weights, eval mode, on the CPU."""
    from mmpose.registry import MODELS as REGISTRY

    from vitpose_mm.apis import load_config
    path = config if '::' in config or os.path.isabs(config) else \
        os.path.join(REPO, config)
    if '::' not in path and not os.path.isfile(path):
        raise UsageError(f'config {config} not found')
    cfg = load_config(path)
    cfg.model.pop('init_cfg', None)
    cfg.model.get('backbone', {}).pop('init_cfg', None)
    model = REGISTRY.build(cfg.model).eval().requires_grad_(False)
    if hasattr(model, 'set_dataset') and model.selected_dataset is None:
        model.set_dataset(model.dataset_names[0])
    model.input_hw = input_hw(cfg)
    return model


def input_hw(cfg) -> tuple:
    """(H, W) of the config's model input."""
    codec = cfg.get('codec')
    if isinstance(codec, (list, tuple)):
        codec = codec[0]
    w, h = codec['input_size']
    return h, w


def call(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """One protocol call: the network, an arg-max per map, to the host."""
    def run(x):
        out = model._forward(x)
        while isinstance(out, (tuple, list)):
            out = out[0]
        return out.flatten(2).argmax(-1).cpu()
    return run


def measure(fn: Callable, x: torch.Tensor, warmup: int, iters: int,
            device: torch.device, amp: Optional[torch.dtype]) -> float:
    """images/s of ``iters`` calls after ``warmup`` calls, synchronised
    around each call (the original's loop)."""
    sync = (torch.cuda.synchronize if device.type == 'cuda'
            else (lambda: None))
    autocast = (torch.autocast(device.type, dtype=amp) if amp is not None
                else contextlib.nullcontext())
    with torch.inference_mode(), autocast:
        for _ in range(warmup):
            sync()
            fn(x)
            sync()
        start = time.perf_counter()
        for _ in range(iters):
            sync()
            fn(x)
            sync()
        elapsed = time.perf_counter() - start
    return x.shape[0] * iters / elapsed


def settings(args) -> List[dict]:
    """One dict per row: precision, compile, fast."""
    compiles = {'off': [False], 'on': [True], 'both': [False, True]}
    return [dict(precision=p, compile=c) for p in args.precisions
            for c in compiles[args.compile]]


def prepare(model: nn.Module, setting: dict, args,
            device: torch.device) -> Callable:
    """The timed function of ``model`` in ``setting``."""
    precision = setting['precision']
    if args.fast:
        from vitpose_mm.deploy import optimize_for_inference
        model = optimize_for_inference(model, precision)
    model = model.to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fn = call(model)
    if setting['compile']:
        fn = torch.compile(fn)
    return fn


def check(args) -> None:
    """Refuse what cannot run here, before any model is built."""
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise UsageError(f'--device {args.device}: no CUDA device here')
    if args.fast and device.type != 'cpu':
        raise UsageError('--fast is the CPU path; on a GPU use autocast '
                         '(--precisions)')
    if args.config and '::' not in args.config and not os.path.isfile(
            os.path.join(REPO, args.config)):
        raise UsageError(f'config {args.config} not found')


def run(args) -> List[dict]:
    device = torch.device(args.device)
    names = [('config', args.config)] if args.config else [
        (name, MODELS[name]) for name in args.models]
    rows = []
    for name, config in names:
        model = build(config)
        h, w = model.input_hw
        x = torch.randn(args.batch, 3, h, w, device=device)
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for setting in settings(args):
            fn = prepare(model, setting, args, device)
            amp = None if args.fast else AMP.get(setting['precision'])
            speed = measure(fn, x, args.warmup, args.iters, device, amp)
            rows.append(dict(
                model=name, input=f'{h}x{w}', batch=args.batch,
                precision=setting['precision'] + (
                    ' fast' if args.fast else
                    ' AMP' if amp is not None else ''),
                compile='yes' if setting['compile'] else 'no',
                images_per_s=speed, paper=PAPER_A100.get(name)))
            print(f'# {name} {setting}: {speed:.2f} images/s',
                  file=sys.stderr, flush=True)
        del model
    return rows


def table(rows: List[dict]) -> str:
    return markdown_table(
        [('model', 'model', ''), ('input', 'input', ''),
         ('batch', 'batch', ''), ('precision', 'precision', ''),
         ('compile', 'compile', ''), ('img/s', 'images_per_s', '.1f'),
         ('paper A100 img/s', 'paper', '')], rows)


def parse_args(argv=None) -> argparse.Namespace:
    def positive(text):
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
        return value

    def nonnegative(text):
        value = int(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
        return value

    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--models', nargs='+', choices=list(MODELS),
                        default=list(MODELS))
    parser.add_argument('--config', help='time this config instead')
    parser.add_argument('--batch', type=positive, default=32,
                        help="images per call (the original's --bz: 32)")
    parser.add_argument('--warmup', type=nonnegative, default=100)
    parser.add_argument('--iters', type=positive, default=100)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precisions', nargs='+', default=['fp32'],
                        choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--compile', choices=['off', 'on', 'both'],
                        default='off')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--fast', action='store_true',
                        help='CPU: optimize_for_inference in each precision '
                        'instead of autocast')
    parser.add_argument('--threads', type=positive)
    parser.add_argument('--markdown', help='also write the table here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check(args)
    except (UsageError, RuntimeError) as err:
        print(f'throughput: {err}', file=sys.stderr)
        return 1
    from mmengine.logging import MMLogger
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel('ERROR')
    import vitpose_mm  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        rows = run(args)
    except (UsageError, ValueError) as err:
        print(f'throughput: {err}', file=sys.stderr)
        return 1
    device = (torch.cuda.get_device_name(args.device)
              if args.device.startswith('cuda') else
              f'CPU ({torch.get_num_threads()} threads, '
              f'{torch.backends.cpu.get_cpu_capability()})')
    given = sys.argv[1:] if argv is None else argv
    text = (f'<!-- benchmarks/throughput.py {" ".join(given)} -->\n'
            f'Device: {device}, torch {torch.__version__}; warm-up '
            f'{args.warmup}, {args.iters} timed calls\n\n' + table(rows))
    print(text)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
