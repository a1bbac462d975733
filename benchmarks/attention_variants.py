"""Cost of the attention types of the ViTPose paper (Sec. 3.3) on CPU.

ViTPose-B backbone (768/12/12) at 256x192, ``ratio`` 1 (1/16 features,
16x12 tokens) and 2 (1/8 features, 32x24 tokens), with full attention
(fused ``scaled_dot_product_attention``, and explicit as the original) and
8x8 windows: plain, shifted (every second block), pooling, and shifted +
pooling, as in the configs ``vitpose-mm_td-hm_ViTPose-base-ratio2-*window*``. For each
variant, one fresh subprocess measures:

- **infer img/s**: backbone forward, ``torch.no_grad``, eval mode, best
  of the timed iterations after one warm-up (the best is the least
  disturbed by other processes on a shared machine);
- **train s/it**: one forward + backward of ``out.square().mean()`` in
  train mode (drop path 0.3 as the recipe), not warmed up;
- **peak MiB** (infer / train): the peak resident memory of the process
  during the measured step, minus its resident memory just before it:
  what the step adds on top of the loaded model (activations, attention
  masks, temporaries; the gradient buffers are allocated before the
  training step and not counted, they are the same 330 MiB for every
  variant). Linux only: the
  peak is ``VmHWM`` of ``/proc/self/status``, reset before the step by
  writing 5 to ``/proc/self/clear_refs``, and glibc's ``malloc`` is told to
  map every block of 64 KiB or more on its own (``MALLOC_MMAP_THRESHOLD_``)
  so that freed tensors leave the resident set at once. ``tracemalloc``
  does not see torch's allocations and CPU torch has no allocator
  statistics, hence the resident set;
- **GFLOPs**: one image's forward (2 per multiply-add), from
  ``torch.utils.flop_counter`` on a meta-device copy of the model (there
  ``scaled_dot_product_attention`` runs its math path and is counted; on
  CPU tensors the counter misses it); padded and pooled keys count as
  computed.

Usage::

    .venv/bin/python benchmarks/attention_variants.py [--batch 1]
        [--iters 2] [--ratios 1 2] [--threads N]

Timings on a shared CPU are noisy; compare variants of one run, not runs.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Tuple

#: name -> attn_types of the 12 blocks. 'full, explicit' is full attention
#: computed as the original ViTPose does, softmax(q k^T) v with the
#: (N, N) matrices stored (``Attention.forward_manual``): the baseline of
#: the paper's memory figures, before fused attention kernels.
VARIANTS = {
    'full': 'full',
    'full, explicit': 'full',
    'window': 'window',
    'shift window': ['window', 'shift_window'] * 6,
    'pool window': 'pool_window',
    'shift + pool window': ['pool_window', 'shift_pool_window'] * 6,
}
WINDOW = 8


def _status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def _measure(step) -> Tuple[float, float]:
    """(seconds, peak MiB above the resident set before) of one call."""
    import gc
    gc.collect()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current resident set
    before = _status_kib('VmRSS')
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    return seconds, (_status_kib('VmHWM') - before) / 1024


def worker(name: str, ratio: int, batch: int, iters: int) -> Dict:
    """Measure one variant in this (fresh) process; returns the row."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vitpose_mm.models import ViTPoseBackbone
    from vitpose_mm.models.layers import Attention
    if name == 'full, explicit':
        Attention.forward = lambda self, x, grid=None: self.forward_manual(x)

    def build():
        return ViTPoseBackbone(arch='base', img_size=(256, 192),
                               ratio=ratio, drop_path_rate=0.3,
                               attn_types=VARIANTS[name], window_size=WINDOW)

    with torch.device('meta'):  # shapes only: FLOPs cost no compute
        meta = build().eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            meta(torch.empty(1, 3, 256, 192))
    grid = meta.patch_embed.patch_shape
    gflops = counter.get_total_flops() / 1e9

    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(batch, 3, 256, 192)

    def infer():
        with torch.no_grad():
            model(x)

    def train():
        model(x)[0].square().mean().backward()

    infer()  # warm-up
    runs = [_measure(infer) for _ in range(iters)]
    # Gradients are allocated up front, so the training peak is what the
    # step itself needs (activations, temporaries), not the 330 MiB of
    # ViTPose-B gradients every variant shares.
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    model.train()
    train_s, train_mib = _measure(train)
    return dict(variant=name, ratio=ratio, grid=f'{grid[0]}x{grid[1]}',
                gflops=gflops, infer_ips=batch / min(r[0] for r in runs),
                infer_mib=max(r[1] for r in runs), train_s=train_s,
                train_mib=train_mib)


def run_all(batch: int, iters: int, ratios: List[int],
            threads: int) -> List[Dict]:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536',
               OMP_NUM_THREADS=str(threads))
    rows = []
    for ratio in ratios:
        for name in VARIANTS:
            cmd = [sys.executable, __file__, '--worker', name,
                   '--ratios', str(ratio), '--batch', str(batch),
                   '--iters', str(iters), '--threads', str(threads)]
            out = subprocess.run(cmd, env=env, capture_output=True,
                                 text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(f'# {name:20s} ratio {ratio}: {row}', file=sys.stderr,
                  flush=True)
            rows.append(row)
    return rows


def table(rows: List[Dict], batch: int) -> str:
    lines = [
        f'| attention (8x8 windows) | ratio | tokens | GFLOPs/img | '
        f'infer img/s (b{batch}) | infer peak MiB | train s/it (b{batch}) '
        f'| train peak MiB |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['ratio']} | {r['grid']} | "
            f"{r['gflops']:.1f} | {r['infer_ips']:.2f} | "
            f"{r['infer_mib']:.0f} | {r['train_s']:.2f} | "
            f"{r['train_mib']:.0f} |")
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--iters', type=int, default=2,
                        help='timed inference iterations per variant')
    parser.add_argument('--ratios', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--threads', type=int,
                        default=len(os.sched_getaffinity(0)))
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import torch
        torch.set_num_threads(args.threads)
        print(json.dumps(worker(args.worker, args.ratios[0], args.batch,
                                args.iters)))
        return
    import torch
    start = time.perf_counter()
    rows = run_all(args.batch, args.iters, args.ratios, args.threads)
    print(f'ViTPose-B backbone, 256x192 input, torch {torch.__version__}, '
          f'{args.threads} CPU threads, batch {args.batch}; '
          f'{time.perf_counter() - start:.0f} s in all\n')
    print(table(rows, args.batch))


if __name__ == '__main__':
    main()
