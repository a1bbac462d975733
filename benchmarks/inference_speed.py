"""Inference speed of ViTPose implementations, side by side, in one run.

Every implementation computes the same function: one random ViTPose
(seeded, heatmaps scaled to peak near 1) is converted with
:func:`vitpose_mm.checkpoint.convert_state_dict` into

=============  ===========================================================
``hf-eager``   transformers ``VitPoseForPoseEstimation``, eager attention
``hf-sdpa``    the same with ``attn_implementation='sdpa'``
``mmpose``     mmpose 1.x's own ViTPose config (``mmpose::...td-hm_ViTPose-
               *``: mmpretrain ``VisionTransformer`` + ``HeatmapHead``)
``ours``       vitpose_mm, eager fp32
``fast``       ``optimize_for_inference(precision='fp32')``
``bf16``       ``optimize_for_inference(precision='bf16')``
``fp16``       ``optimize_for_inference(precision='fp16')`` (opt-in)
``ort``        our ONNX export run by onnxruntime (opt-in; export is slow)
``int8``       ``optimize_for_inference(precision='int8')``: dynamic int8
               linear layers (torch's quantized engine), the rest fp32
``ort-int8``   ``export_onnx(int8=True)`` run by onnxruntime (opt-in)
``ort-int8-static``  the ``ort`` file through :func:`vitpose_mm.deploy.
               int8.quantize_onnx_static_int8` (static QDQ, per-channel
               weights; calibrated on random crops: a speed row; opt-in)
``int8-static``  :func:`vitpose_mm.deploy.static_int8.quantize_static_int8`
               (PT2E, x86 inductor quantiser, ``torch.compile``;
               calibrated on random crops: a speed row; opt-in, needs
               torchao)
``bf16-compile``  the eager model (simple decoder folded) under bf16
               autocast, ``torch.compile`` with freezing (opt-in)
``fast-unfolded``, ``bf16-unfolded``  ``fast`` / ``bf16`` with
               ``fold_decoder=False`` (the paths before the simple-decoder
               fold; opt-in, for before / after in one run)
``int8-static-before``  ``int8-static`` with ``fold_decoder=False,
               attention='fp32'`` (opt-in, likewise)
=============  ===========================================================

and the heatmaps of each are checked against ``ours`` (``err``: max abs
difference / max abs heatmap). Implementations are timed round-robin
(interleaved), so a busy machine slows all alike; the table gives the
median of ``--repeats`` timed calls after ``--warmup`` calls, as
images/s and as a ratio to ``hf-eager``. ``act MiB`` is the peak memory
one call adds to the process (activations and workspace; weights are
resident before): resident memory sampled every millisecond after
``malloc_trim``, since the CPU has no allocator counter to read. All
implementations hold fp32 weights (S 95 MiB, B 343 MiB, L 1.2 GiB) except
``bf16`` / ``fp16`` (half of that).

The GEMM peak of every precision the rows use is measured in the same
run (:mod:`peaks`: fp32 / bf16 / fp16 ``torch.mm`` and oneDNN prepacked
linear; int8 dynamic linear, ``torch._int_mm`` and oneDNN's static
qlinear), where the CPU runs that precision natively: before and after
the rows, each kernel's fastest call, the faster of the two measurements
(a median measured once let a busy moment halve the int8 peak of one
run). The model's GFLOP
per image is counted once per model, on the fp32 eager model
(``torch.utils.flop_counter``), whatever ``--impls`` lists; ``GFLOP/s``
is images/s x that count (GOP/s for int8 rows: the function's FLOPs, not
the work a path does; every path but ``hf-*``, ``mmpose`` and ``ours``
folds the simple decoder's final convolution below its upsampling,
:mod:`vitpose_mm.deploy.simple_decoder`, 1.9% fewer FLOPs at ViTPose-B)
and ``%peak`` its share of
the peak of the row's **own** precision (``peak`` column: fp32 rows over
the fp32 peak, bf16 over bf16, int8 over int8). A precision the CPU does
not run natively has no peak of its own: its rows are put over the fp32
peak and marked ``fp32*``. ViTPose+ (6 experts) is timed as ``moe``
(per-sample routing), ``dense`` (its expert folded into a dense FFN,
:class:`HeatmapNet`) and ``moe-fast`` (``optimize_for_inference``).

Examples::

    .venv/bin/python benchmarks/inference_speed.py            # full table
    .venv/bin/python benchmarks/inference_speed.py --sizes B \\
        --batches 1 8 --repeats 3 --plus-sizes B
    .venv/bin/python benchmarks/inference_speed.py --sizes B --batches 8 \\
        --impls hf-eager fast --profile fast
    .venv/bin/python benchmarks/inference_speed.py --sizes B --batches 8 \\
        --impls hf-eager ours fast int8 ort ort-int8 --plus-sizes

Needs transformers; ``mmpose`` needs mmpretrain (requirements/
benchmarks.txt), ``ort`` onnxruntime (requirements/export.txt); missing
packages drop their implementations with a note.
"""
import argparse
import contextlib
import ctypes
import json
import os
import statistics
import sys
import threading
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from peaks import (count_gflop, cpu_flags, gemm_peaks,  # noqa: E402
                   native_precisions)
from tables import markdown_table  # noqa: E402
from tests.deploy.helpers import scale_heads  # noqa: E402

SIZES = {'S': 'small', 'B': 'base', 'L': 'large', 'H': 'huge'}
IMPLS = ('hf-eager', 'hf-sdpa', 'mmpose', 'ours', 'fast', 'bf16', 'int8')
OPTIONAL_IMPLS = ('fast-onednn', 'fp16', 'ort', 'ort-int8', 'int8-static',
                  'ort-int8-static',
                  'bf16-compile', 'fast-unfolded', 'bf16-unfolded',
                  'int8-static-before')
#: The precision of each row whose GEMMs are not fp32 (its %peak is over
#: that precision's GEMM peak).
ROW_PRECISION = {'bf16': 'bf16', 'fp16': 'fp16', 'int8': 'int8',
                 'ort-int8': 'int8', 'int8-static': 'int8',
                 'ort-int8-static': 'int8',
                 'bf16-compile': 'bf16', 'bf16-unfolded': 'bf16',
                 'int8-static-before': 'int8'}
PLUS_IMPLS = ('moe', 'dense', 'moe-fast')
OUR_CONFIG = ('configs/body_2d_keypoint/topdown_heatmap/coco/'
              'vitpose-mm_td-hm_ViTPose-{size}{simple}_8xb64-210e_coco-256x192.py')
MMPOSE_CONFIG = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                 'td-hm_ViTPose-{size}{simple}_8xb64-210e_coco-256x192.py')


# ---------------------------------------------------------------- models --
def load_cfg(path: str):
    from vitpose_mm.apis import load_config
    return load_config(path if '::' in path else os.path.join(REPO, path))


def build_ours(size: str, decoder: str, seed: int = 0) -> nn.Module:
    """Our estimator from the shipped config, random weights."""
    from mmpose.registry import MODELS
    simple = '-simple' if decoder == 'simple' else ''
    cfg = load_cfg(OUR_CONFIG.format(size=size, simple=simple))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    scale_heads(model, torch.randn(2, 3, 256, 192))
    return model


def build_plus(size: str, decoder: str, seed: int = 0) -> nn.Module:
    """A ViTPose+ estimator (6 experts, released part_features) with six
    17-keypoint COCO heads, random weights."""
    from mmpose.registry import MODELS
    simple = '-simple' if decoder == 'simple' else ''
    cfg = load_cfg(OUR_CONFIG.format(size=size, simple=simple)).model
    cfg.type = 'ViTPosePlusEstimator'
    cfg.backbone.type = 'ViTPosePlusBackbone'
    cfg.backbone.num_expert = 6
    cfg.datasets = [dict(name=f'coco{i}', dataset_type='CocoDataset')
                    for i in range(6)]
    cfg.test_cfg['dataset'] = 'coco0'
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    scale_heads(model, torch.randn(2, 3, 256, 192))
    return model


def build_hf(ours: nn.Module, decoder: str, attn: str) -> nn.Module:
    """transformers' VitPose with ``ours``'s weights."""
    import transformers

    from vitpose_mm.checkpoint import convert_state_dict
    bb = ours.backbone
    backbone = transformers.VitPoseBackboneConfig(
        image_size=list(bb.img_size), patch_size=[16, 16],
        hidden_size=bb.embed_dim, num_hidden_layers=bb.depth,
        num_attention_heads=bb.num_heads, mlp_ratio=bb.mlp_ratio,
        qkv_bias=True, layer_norm_eps=1e-6, out_indices=[bb.depth])
    config = transformers.VitPoseConfig(
        backbone_config=backbone, num_labels=ours.head.out_channels,
        use_simple_decoder=decoder == 'simple')
    model = transformers.VitPoseForPoseEstimation(config)
    # The top-level class refuses 'sdpa'; its backbone (which has all the
    # attention) takes either, and defaults to 'sdpa'.
    model.backbone.set_attn_implementation(attn)
    model.load_state_dict(convert_state_dict(ours.state_dict(), to='hf'),
                          strict=True)
    return model.eval()


def build_mmpose(ours: nn.Module, size: str, decoder: str) -> nn.Module:
    """mmpose 1.x's own ViTPose config with ``ours``'s weights."""
    import mmpretrain.utils.dependency as dependency

    # mmpretrain 1.2's multimodal models do not import with transformers
    # 5; ViTPose needs none of them.
    dependency.WITH_MULTIMODAL = False
    import mmpretrain.models  # noqa: F401
    from mmpose.registry import MODELS

    from vitpose_mm.checkpoint import convert_state_dict
    simple = '-simple' if decoder == 'simple' else ''
    cfg = load_cfg(MMPOSE_CONFIG.format(size=size, simple=simple))
    cfg.model.backbone.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    model.load_state_dict(
        convert_state_dict(ours.state_dict(), to='mmpose'), strict=True)
    return model.eval()


def export_ort(ours: nn.Module, size: str, decoder: str,
               int8: Optional[str] = None) -> Callable:
    """Our model exported to ONNX (dynamic batch; ``int8='int8'``:
    dynamic int8 linear layers, ``'int8-static'``: static QDQ calibrated
    on 8 random crops), run by onnxruntime."""
    import tempfile

    from vitpose_mm.deploy import OnnxPoseModel, export_onnx
    from vitpose_mm.deploy.int8 import quantize_onnx_static_int8
    simple = '-simple' if decoder == 'simple' else ''
    ours.cfg = load_cfg(OUR_CONFIG.format(size=size, simple=simple))
    path = os.path.join(tempfile.mkdtemp(), f'vitpose-{size}.onnx')
    with contextlib.redirect_stdout(sys.stderr):
        export_onnx(ours, path, verify=False, int8=int8 == 'int8')
        if int8 == 'int8-static':
            crops = torch.randn(8, 3, 256, 192,
                                generator=torch.Generator().manual_seed(0))
            quantize_onnx_static_int8(path, path, crops.numpy())
    runner = OnnxPoseModel(path)
    return lambda x: torch.from_numpy(runner.heatmaps(x))


def compiled_bf16(ours: nn.Module) -> Callable:
    """A copy of ``ours`` (simple decoder folded, as on every fast path)
    under bf16 autocast, ``torch.compile``d (inductor, freezing: weights
    folded and prepacked in bf16)."""
    import copy

    from vitpose_mm.deploy.simple_decoder import fold_simple_decoder
    from vitpose_mm.deploy.static_int8 import frozen
    model = copy.deepcopy(ours)
    fold_simple_decoder(model)
    fn = frozen(torch.compile(lambda x: model(x, None, mode='tensor')))

    def run(x):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return fn(x).float()
    return run


def make_impls(names, size: str, decoder: str,
               ours: Optional[nn.Module] = None,
               batch: int = 8) -> Dict[str, Callable]:
    """{name: crops -> heatmaps} for the implementations in ``names``
    (``ours``: the eager model of ``size``, built when not given;
    ``batch``: the batch size ``int8-static`` is calibrated at, on random
    crops)."""
    from vitpose_mm.deploy import optimize_for_inference
    ours = build_ours(size, decoder) if ours is None else ours
    impls = {}

    def tensor_mode(model):
        return lambda x: model(x, None, mode='tensor')

    for name in names:
        try:
            if name in ('hf-eager', 'hf-sdpa'):
                model = build_hf(ours, decoder, name[3:])
                impls[name] = (lambda m: lambda x: m(pixel_values=x)
                               .heatmaps)(model)
            elif name == 'mmpose':
                impls[name] = tensor_mode(build_mmpose(ours, size, decoder))
            elif name == 'ours':
                impls[name] = tensor_mode(ours)
            elif name == 'fast':
                impls[name] = tensor_mode(optimize_for_inference(ours))
            elif name == 'fast-onednn':
                impls[name] = tensor_mode(
                    optimize_for_inference(ours, backend='onednn'))
            elif name in ('bf16', 'fp16'):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter('always')
                    model = optimize_for_inference(ours, name)
                for warning in caught:
                    print(f'# {name}: {warning.message}')
                impls[name] = tensor_mode(model)
            elif name in ('fast-unfolded', 'bf16-unfolded'):
                precision = 'fp32' if name == 'fast-unfolded' else 'bf16'
                impls[name] = tensor_mode(optimize_for_inference(
                    ours, precision, fold_decoder=False))
            elif name == 'int8':
                impls[name] = tensor_mode(optimize_for_inference(ours, name))
            elif name in ('int8-static', 'int8-static-before'):
                from vitpose_mm.deploy.static_int8 import \
                    quantize_static_int8
                before = (dict(attention='fp32', fold_decoder=False)
                          if name == 'int8-static-before' else {})
                impls[name] = quantize_static_int8(
                    ours, torch.randn(batch, 3, 256, 192), **before)
            elif name == 'bf16-compile':
                impls[name] = compiled_bf16(ours)
            elif name in ('ort', 'ort-int8', 'ort-int8-static'):
                impls[name] = export_ort(ours, size, decoder,
                                         int8=name[4:] or None)
            else:
                raise ValueError(f'unknown implementation {name!r}')
        except ImportError as err:
            print(f'# {name} skipped: {err}')
    return impls


def make_plus_impls(size: str, decoder: str) -> Dict[str, Callable]:
    """ViTPose+ variants, all serving dataset 0 (expert 0, head 0)."""
    from vitpose_mm.deploy import HeatmapNet, optimize_for_inference
    plus = build_plus(size, decoder)
    fast = optimize_for_inference(plus)

    def routed(model):
        def run(x):
            index = torch.zeros(len(x), dtype=torch.long)
            return model.heads['coco0'](model.extract_feat(x, index))
        return run

    return {'moe': routed(plus), 'dense': HeatmapNet(plus, 'coco0'),
            'moe-fast': routed(fast)}


# -------------------------------------------------------------- measuring --
def _rss() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@contextlib.contextmanager
def peak_rss(period: float = 1e-3):
    """Yield a dict with the RSS (bytes) ``'before'`` the block and the
    highest ``'peak'`` seen while it runs (sampled every ``period`` s)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    out = dict(before=_rss())
    out['peak'] = out['before']
    done = threading.Event()

    def sample():
        while not done.is_set():
            out['peak'] = max(out['peak'], _rss())
            time.sleep(period)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        done.set()
        thread.join()
        out['peak'] = max(out['peak'], _rss())


def time_round_robin(impls: Dict[str, Callable], x: Tensor, repeats: int,
                     warmup: int,
                     inference: bool = True) -> Dict[str, List[float]]:
    """Seconds per call of each implementation, calls interleaved (in
    ``torch.inference_mode`` when ``inference``)."""
    times = {name: [] for name in impls}
    with torch.inference_mode(inference):
        for _ in range(warmup):
            for fn in impls.values():
                fn(x)
        for _ in range(repeats):
            for name, fn in impls.items():
                start = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - start)
    return times


def max_rel_error(impls: Dict[str, Callable], ref: str,
                  x: Tensor) -> Dict[str, float]:
    """max |heatmaps - ref| / max |ref| for every implementation."""
    with torch.inference_mode():
        expected = impls[ref](x).float()
        scale = expected.abs().max()
        return {name: float((fn(x).float() - expected).abs().max() / scale)
                for name, fn in impls.items()}


def profile(fn: Callable, x: Tensor, rows: int = 15,
            inference: bool = True) -> str:
    """Top operators by self CPU time of one call (torch.profiler), after
    one call to warm up."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile
    with torch.inference_mode(inference):
        fn(x)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            fn(x)
    return prof.key_averages().table(sort_by='self_cpu_time_total',
                                     row_limit=rows)


# ---------------------------------------------------------------- the run --
def row_peak(name: str, peaks: Dict[str, float]) -> Tuple[str, float]:
    """(label, GFLOP/s) of the GEMM peak row ``name`` is measured against:
    its own precision's, or the fp32 peak as ``'fp32*'`` where this CPU
    has no native kernels for it."""
    precision = ROW_PRECISION.get(name, 'fp32')
    if precision in peaks:
        return precision, peaks[precision]
    return 'fp32*', peaks['fp32']


def bench(impls: Dict[str, Callable], ref: str, base: Optional[str],
          batches: List[int], args, label: str,
          gflop: float) -> List[dict]:
    """Rows of the table for one model of ``gflop`` GFLOP per image (fp32
    count), without their peak columns (:func:`add_peaks`)."""
    rows = []
    errors = max_rel_error(impls, ref, torch.randn(2, 3, 256, 192))
    for batch in batches:
        x = torch.randn(batch, 3, 256, 192)
        times = time_round_robin(impls, x, args.repeats, args.warmup)
        memory = {}
        for name, fn in impls.items():
            with torch.inference_mode(), peak_rss() as mem:
                fn(x)
            memory[name] = (mem['peak'] - mem['before']) / 2**20
        speed = {k: batch / statistics.median(v) for k, v in times.items()}
        for name in impls:
            rows.append(dict(
                model=label, batch=batch, impl=name,
                images_per_s=speed[name],
                ratio=speed[name] / speed[base] if base in speed else None,
                gflop_per_s=speed[name] * gflop,
                act_mib=memory[name], err=errors[name]))
        print(f'# {label} batch {batch} done', file=sys.stderr, flush=True)
    return rows


def add_peaks(rows: List[dict], peaks: Dict[str, float]) -> None:
    """Fill each row's ``peak`` (label) and ``peak_fraction`` from
    ``peaks`` ({precision: GEMM peak}), in place."""
    for row in rows:
        row['peak'], peak = row_peak(row['impl'], peaks)
        row['peak_fraction'] = row['gflop_per_s'] / peak


def format_table(rows: List[dict], base: str) -> str:
    """The result table; ``x <base>`` is each row's ratio to ``base``."""
    return markdown_table(
        [('model', 'model', ''), ('batch', 'batch', ''), ('impl', 'impl', ''),
         ('img/s', 'images_per_s', '.2f'), (f'x {base}', 'ratio', '.2f'),
         ('GFLOP/s', 'gflop_per_s', '.0f'), ('peak', 'peak', ''),
         ('%peak', 'peak_fraction', '.0%'),
         ('act MiB', 'act_mib', '.0f'), ('err', 'err', '.1e')], rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', default=['S', 'B', 'L'],
                        choices=list(SIZES), help='ViTPose sizes')
    parser.add_argument('--batches', nargs='+', type=int, default=[1, 8, 32])
    parser.add_argument('--impls', nargs='+', default=list(IMPLS),
                        choices=list(IMPLS + OPTIONAL_IMPLS))
    parser.add_argument('--decoder', choices=['simple', 'classic'],
                        default='simple')
    parser.add_argument('--plus-sizes', nargs='*', default=['B'],
                        choices=list(SIZES),
                        help='ViTPose+ sizes (none to skip)')
    parser.add_argument('--plus-batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int,
                        help='torch threads (default: torch default)')
    parser.add_argument('--profile', metavar='IMPL',
                        help='also print the top ops of IMPL at the first '
                        'size and the largest batch')
    parser.add_argument('--json', help='write the rows to this file')
    return parser.parse_args(argv)


def setup(threads: Optional[int] = None) -> None:
    """Register mmpose and vitpose_mm, quiet the logs, set threads."""
    from mmengine.logging import MMLogger
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    MMLogger.get_current_instance().setLevel('ERROR')
    import vitpose_mm  # noqa: F401
    warnings.filterwarnings('ignore', category=UserWarning)
    if threads:
        torch.set_num_threads(threads)


def measure_peaks(impls, repeats: int, when: str,
                  before: Optional[dict] = None
                  ) -> Tuple[Dict[str, float], dict]:
    """({precision: peak GFLOP/s}, {precision: {kernel: GFLOP/s}}) for
    fp32 and the native precisions of ``impls``' rows, printed with
    ``when``. ``before``: kernels of an earlier measurement of the same
    run; each kernel keeps the faster of the two (``main`` measures before
    and after the rows, so one busy moment cannot make the peak low)."""
    flags = cpu_flags()
    native = native_precisions(flags)
    wanted = ['fp32'] + sorted({ROW_PRECISION[i] for i in impls
                                if i in ROW_PRECISION})
    if before is None:
        print(f'# CPU flags: {" ".join(flags) or "unknown"}; native: '
              f'{", ".join(native)}')
        for precision in wanted:
            if precision not in native:
                print(f'# no native {precision} on this CPU: its rows are '
                      'over the fp32 peak (fp32*)')
    kernels = gemm_peaks([p for p in wanted if p in native], repeats)
    for precision, rates in kernels.items():
        unit = 'GOP/s' if precision == 'int8' else 'GFLOP/s'
        print(f'# GEMM peak (2048^3 {precision}, {when}): ' + ', '.join(
            f'{k} {v:.0f} {unit}' for k, v in rates.items()))
        for k, v in (before or {}).get(precision, {}).items():
            rates[k] = max(rates.get(k, 0.0), v)
    return {p: max(r.values()) for p, r in kernels.items()}, kernels


def main(argv=None) -> None:
    args = parse_args(argv)
    setup(args.threads)
    base = 'hf-eager'
    print(f'# torch {torch.__version__}, {torch.get_num_threads()} threads,'
          f' CPU capability {torch.backends.cpu.get_cpu_capability()}')
    repeats = max(args.repeats, 3)
    _, kernels = measure_peaks(args.impls, repeats, 'before the rows')
    rows = []
    for size in args.sizes:
        ours = build_ours(SIZES[size], args.decoder)
        gflop = count_gflop(lambda x: ours(x, None, mode='tensor'))
        print(f'# ViTPose-{size}: {gflop:.2f} GFLOP per image (fp32)')
        impls = make_impls(args.impls, SIZES[size], args.decoder, ours,
                           max(args.batches))
        ref = 'ours' if 'ours' in impls else next(iter(impls))
        rows += bench(impls, ref, base, args.batches, args,
                      f'ViTPose-{size}', gflop)
        if args.profile and size == args.sizes[0]:
            print(f'# profile: {args.profile}, ViTPose-{size}, batch '
                  f'{max(args.batches)}')
            print(profile(impls[args.profile],
                          torch.randn(max(args.batches), 3, 256, 192)))
        del impls, ours
    plus_rows = []
    for size in args.plus_sizes or []:
        impls = make_plus_impls(SIZES[size], args.decoder)
        gflop = count_gflop(impls['moe'])  # eager, decoder not folded
        print(f'# ViTPose+-{size}: {gflop:.2f} GFLOP per image (fp32, one '
              'expert)')
        plus_rows += bench(impls, 'moe', 'moe', [args.plus_batch], args,
                           f'ViTPose+-{size}', gflop)
        del impls
    peaks, kernels = measure_peaks(args.impls, repeats, 'after the rows',
                                   kernels)
    print('# peaks: the faster of the two measurements: ' + ', '.join(
        f'{p} {v:.0f}' for p, v in peaks.items()))
    add_peaks(rows, peaks)
    add_peaks(plus_rows, peaks)
    print(format_table(rows, base))
    if plus_rows:
        print()
        print(format_table(plus_rows, 'moe'))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(gemm=kernels, rows=rows + plus_rows,
                           args=vars(args)), f, indent=1)


if __name__ == '__main__':
    main()
