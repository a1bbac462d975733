"""What the CPU can do, measured: its instruction-set flags (read by
:mod:`vitpose_runtime.precision`, which ``--precision auto`` uses too), the
GEMM peak of every precision it runs, and the FLOPs of a model, counted
once.

A benchmark row's ``%peak`` is its achieved rate over the GEMM peak of its
**own** precision measured in the same run (fp32 rows over the fp32 peak,
bf16 over bf16, int8 over int8): a bf16 row at 128% of the fp32 peak
says only that bf16 kernels exist, not how much of them is used.

- ``fp32`` / ``bf16`` / ``fp16``: an n^3 ``torch.mm`` in that dtype and a
  oneDNN prepacked linear layer of the same size (``_linear_pointwise``,
  the kernel the fast path and inductor use), where oneDNN runs the dtype
  natively (:func:`vitpose_mm.deploy.onednn_supports`). fp16 is measured
  only where the CPU has AVX512-FP16 / AMX-FP16 / AVX-NE-CONVERT (emulated
  fp16 GEMMs take minutes at this size).
- ``int8``: an n^3 dynamic int8 ``nn.Linear`` of torch's quantized engine
  (activation quantisation included: what the dynamic int8 path can reach),
  ``torch._int_mm`` (s8 x s8 -> s32, no quantisation) and oneDNN's
  static ``qlinear_pointwise`` (u8 x s8 -> fp32 on a prepacked weight: the
  kernel that PT2E's x86 inductor quantisation lowers to; VNNI / AMX).
  Counted as 2 n^3 operations.

The peak of a precision is the fastest of its kernels. On CPUs with AMX
(``amx_bf16``, ``amx_int8``) oneDNN uses the tiles for bf16 / int8 on its
own; the flags are reported so a reader knows which hardware the peak
came from.

FLOPs: :func:`count_gflop` runs ``torch.utils.flop_counter.FlopCounterMode``
on the **fp32 eager** model (the fast path's oneDNN ops and the quantized
ops are invisible to the counter), adding the CPU flash-attention op that
``scaled_dot_product_attention`` dispatches to on the CPU, which the
counter does not know (it counts the CUDA ones).
"""
import statistics
import time
from typing import Callable, Dict, Iterable

import torch
from torch import Tensor, nn
from vitpose_runtime.precision import (FLAGS, cpu_flags,  # noqa: F401
                                      native_precisions)


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls after a warm-up (oneDNN
    builds its kernel on the first call). A peak is what the hardware can
    do: a moment of other work on the machine only slows a call, so the
    fastest call is the estimate (a median let one busy stretch halve the
    int8 peak of a run)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _float_kernels(dtype: torch.dtype, n: int) -> Dict[str, Callable]:
    from vitpose_mm.deploy import onednn_supports
    a, w = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    fns = {'torch.mm': lambda: torch.mm(a, w.t())}
    if onednn_supports(dtype):
        packed = torch.ops.mkldnn._reorder_linear_weight(w, n)
        fns['onednn'] = lambda: torch.ops.mkldnn._linear_pointwise(
            a, packed, None, 'none', [], '')
    return fns


def _int8_kernels(n: int) -> Dict[str, Callable]:
    from vitpose_mm.deploy.int8 import int8_linear
    layer = int8_linear(nn.Linear(n, n, bias=False))
    x = torch.randn(n, n)
    a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    fns = {f'{torch.backends.quantized.engine} dynamic linear':
           lambda: layer(x),
           '_int_mm': lambda: torch._int_mm(a, b)}
    onednn = getattr(torch.ops, 'onednn', None)
    if torch.backends.mkldnn.is_available() and hasattr(onednn,
                                                        'qlinear_prepack'):
        qx = torch.randint(0, 256, (n, n), dtype=torch.uint8)
        packed = onednn.qlinear_prepack(b, [n, n])
        w_scale, w_zero = torch.full((n, ), 0.01), torch.zeros(
            n, dtype=torch.long)
        fns['onednn static qlinear'] = lambda: onednn.qlinear_pointwise(
            qx, 0.02, 0, packed, w_scale, w_zero, None, 1.0, 0,
            torch.float32, 'none', [], '')
    return fns


def gemm_peaks(precisions: Iterable[str], repeats: int = 3,
               n: int = 2048) -> Dict[str, Dict[str, float]]:
    """{precision: {kernel: GFLOP/s (GOP/s for int8)}} of n^3 GEMMs, the
    fastest of ``repeats`` timed calls each, in inference mode.

    Raises:
        ValueError: On a precision other than fp32 / bf16 / fp16 / int8.
    """
    dtypes = {'fp32': torch.float32, 'bf16': torch.bfloat16,
              'fp16': torch.float16}
    out = {}
    with torch.inference_mode():
        for precision in precisions:
            if precision == 'int8':
                fns = _int8_kernels(n)
            elif precision in dtypes:
                fns = _float_kernels(dtypes[precision], n)
            else:
                raise ValueError(f'unknown precision {precision!r}; choose '
                                 'from fp32, bf16, fp16, int8')
            out[precision] = {
                name: 2 * n**3 / _best_seconds(fn, repeats) / 1e9
                for name, fn in fns.items()}
    return out


def _cpu_sdpa_flop(query, key, value, *args, out_shape=None, **kwargs):
    from torch.utils.flop_counter import sdpa_flop_count
    return sdpa_flop_count(query, key, value)


def count_gflop(fn: Callable[[Tensor], object],
                shape=(1, 3, 256, 192)) -> float:
    """Forward GFLOP per image of ``fn`` (an fp32 eager model call):
    matmuls, convolutions and attention (a multiply-add counts 2).

    Counted on one random input of ``shape`` (B, 3, H, W), divided by B.
    """
    from torch.utils.flop_counter import FlopCounterMode
    aten = torch.ops.aten
    mapping = {aten._scaled_dot_product_flash_attention_for_cpu:
               _cpu_sdpa_flop}
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with torch.inference_mode(), counter:
        fn(torch.randn(*shape))
    return counter.get_total_flops() / 1e9 / shape[0]
