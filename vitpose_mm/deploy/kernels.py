"""Which kernels can run a layer: oneDNN with prepacked weights, or eager.

The fast CPU path keeps weights in oneDNN's blocked layout, reordered once
(``torch.ops.mkldnn._reorder_linear_weight`` and its convolution
counterparts), and runs them through the ``torch.ops.mkldnn.*_pointwise``
kernels that ``torch.compile`` (inductor) uses for the same purpose. Eager
PyTorch reorders a weight on every call or goes through MKL's sgemm, which
on AMD CPUs may dispatch to a slower code path.

oneDNN runs fp32 on any x86-64 CPU, but bf16 only with AVX-512 (BW, VL,
DQ) or AVX-NE-CONVERT, and fp16 only with AVX512-FP16 or AVX-NE-CONVERT;
elsewhere these dtypes fall back to eager (slow: emulated) kernels.

Prepacking pays off in fp32 only on AVX-512 CPUs: there oneDNN's prepacked
fp32 GEMM beat torch's default path, on AVX2-only CPUs the default path was
the faster one, so ``'auto'`` keeps eager kernels there. The measurements
and the command (``benchmarks/inference_speed.py``, rows ``fast`` and
``fast-onednn``) are in ``benchmarks/README.md``, where they can be rerun
on the machine at hand.
"""
import warnings

import torch

#: Names of the precision modes and their compute dtypes. ``'int8'``:
#: dynamic int8 linear layers, the rest float32 (:mod:`.int8`; CPU only).
PRECISIONS = {
    'fp32': torch.float32,
    'bf16': torch.bfloat16,
    'fp16': torch.float16,
    'int8': torch.qint8,
}
#: Backends of :func:`vitpose_mm.deploy.optimize_for_inference`.
BACKENDS = ('auto', 'onednn', 'eager')


def onednn_supports(dtype: torch.dtype) -> bool:
    """Whether oneDNN can run prepacked CPU kernels in ``dtype`` here."""
    if not torch.backends.mkldnn.is_available():
        return False
    if dtype == torch.float32:
        return True
    if dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if dtype == torch.float16:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    return False


def onednn_preferred(dtype: torch.dtype) -> bool:
    """Whether ``'auto'`` should pick oneDNN's prepacked kernels for
    ``dtype`` on this CPU: where they run natively, and for fp32 only on
    AVX-512 CPUs (see the module docstring)."""
    if not onednn_supports(dtype):
        return False
    if dtype != torch.float32:
        return True
    return torch.backends.cpu.get_cpu_capability().startswith('AVX512')


def precision_dtype(precision: str) -> torch.dtype:
    """'fp32' | 'bf16' | 'fp16' | 'int8' -> the compute dtype (``qint8``
    for int8's linear layers).

    Raises:
        ValueError: On another name.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'Unknown precision {precision!r}; choose from '
                         f'{list(PRECISIONS)}')
    return PRECISIONS[precision]


def resolve_backend(backend: str, device: torch.device,
                    dtype: torch.dtype) -> str:
    """The kernel family to use: ``'onednn'`` or ``'eager'``.

    ``'auto'`` picks oneDNN on a CPU where it is the faster path for
    ``dtype`` (:func:`onednn_preferred`) and eager otherwise (GPUs; fp32 on
    CPUs without AVX-512; bf16 / fp16 on CPUs without the instructions,
    with a warning since emulated half precision is slower than fp32
    there).

    Raises:
        ValueError: On an unknown backend, or ``'onednn'`` asked for on a
            GPU or for a dtype this CPU's oneDNN cannot run.
    """
    if backend not in BACKENDS:
        raise ValueError(f'Unknown backend {backend!r}; choose from '
                         f'{list(BACKENDS)}')
    on_cpu = torch.device(device).type == 'cpu'
    supported = on_cpu and onednn_supports(dtype)
    if backend == 'onednn' and not supported:
        where = (f'this CPU ({dtype} needs AVX-512 or AVX-NE-CONVERT)'
                 if on_cpu else f'device {device}')
        raise ValueError(f'backend onednn cannot run {dtype} on {where}; '
                         "use backend='auto' or 'eager'")
    if backend == 'auto':
        backend = 'onednn' if on_cpu and onednn_preferred(dtype) else 'eager'
        if on_cpu and not supported and dtype != torch.float32:
            warnings.warn(
                f'This CPU has no native {dtype} matrix kernels; the eager '
                'fallback emulates them and is slower than fp32 here')
    return backend
