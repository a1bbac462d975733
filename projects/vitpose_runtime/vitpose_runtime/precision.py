"""``--precision auto``: the fastest precision this CPU runs natively whose
keypoints stay within half a pixel of fp32, chosen from measurements.

Three inputs decide, none of them guessed at run time:

- **What the CPU runs natively**, from its flags (``/proc/cpuinfo``):
  :func:`native_precisions`. bf16 matrix instructions are AVX512-BF16 and
  AMX-BF16 (or AVX-NE-CONVERT); int8 dot products VNNI (AVX512-VNNI,
  AVX-VNNI) or AMX-INT8; fp16 AVX512-FP16 / AMX-FP16 / AVX-NE-CONVERT.
  Without them a precision is emulated, and slower than fp32.
- **Speed**, :data:`SPEED_ORDER`: which precision was fastest on which
  class of CPU, by ``benchmarks/inference_speed.py`` (ViTPose-B, batch 8,
  ratios to transformers eager fp32, one run each, machines shared):

  ======================  =====  =====  =====  =====  ======================
  CPU                     fp32   bf16   fp16   int8   source
  ======================  =====  =====  =====  =====  ======================
  AMX (bf16, int8)        1.45   4.93   1.50   2.24   README, issue 24
  AVX512-BF16/VNNI, no    1.68   2.94          3.03   issue 24's probe
  AMX
  AVX2 only               1.0x   < fp32        2.8x   issue 12 (bf16 slower
                          ref                         than fp32 there)
  ======================  =====  =====  =====  =====  ======================

  fp16 with AVX512-FP16 but no AMX-FP16 ran at the fp32 speed (its GEMM
  peak equals fp32's), so ``auto`` never picks fp16. Where bf16 and int8
  tie (AVX512-BF16 without AMX, 3% apart), the more accurate bf16 goes
  first.
- **Accuracy**, :data:`KEYPOINT_SHIFT_P99`: the 99th percentile of the
  keypoint shift against fp32 of the same runtime, in image pixels, on
  the main job's model (``benchmarks/int8_accuracy.py
  outputs/main_job/train/epoch_100.pth --precisions bf16 fp16 int8``: 12
  people x 17 keypoints of the tiny COCO set, flip test). A precision is
  accurate when it is within :data:`MAX_SHIFT_PX`.

The runtime (onnxruntime) and PyTorch have separate tables: their int8
paths quantise differently (per tensor / per channel) and measured
differently (p99 0.38 px vs 0.83 px).
"""
from typing import Iterable, List, Optional, Sequence, Tuple

#: CPU flags that decide which precisions run natively.
FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16',
         'avx_vnni', 'avx_ne_convert', 'amx_tile', 'amx_bf16', 'amx_int8',
         'amx_fp16')

#: Largest 99th-percentile keypoint shift (image pixels) ``auto`` accepts.
MAX_SHIFT_PX = 0.5

#: {runtime: {precision: 99th-percentile keypoint shift against fp32,
#: image pixels}}, measured (module docstring).
KEYPOINT_SHIFT_P99 = {
    'torch': {'fp32': 0.0, 'bf16': 0.075, 'fp16': 0.008, 'int8': 0.828},
    'onnxruntime': {'fp32': 0.0, 'int8': 0.383},
}

#: Precisions fastest first, per CPU class (module docstring): the class
#: is the first whose flags the CPU has.
SPEED_ORDER = (
    ('AMX-BF16', {'amx_bf16'}, ('bf16', 'int8', 'fp32')),
    ('AVX512-BF16', {'avx512_bf16'}, ('bf16', 'int8', 'fp32')),
    ('VNNI', {'avx512_vnni', 'avx_vnni', 'amx_int8'}, ('int8', 'fp32')),
    ('AVX2', {'avx2'}, ('int8', 'fp32')),
)


def cpu_flags(path: str = '/proc/cpuinfo') -> List[str]:
    """The :data:`FLAGS` this CPU reports (``/proc/cpuinfo``; empty where
    the file is missing, e.g. not Linux)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith('flags'):
                    have = set(line.split(':', 1)[1].split())
                    return [flag for flag in FLAGS if flag in have]
    except OSError:
        pass
    return []


def native_precisions(flags: Iterable[str]) -> List[str]:
    """The precisions a CPU with ``flags`` has matrix instructions for:
    fp32 always; bf16 with AVX512-BF16, AMX-BF16 or AVX-NE-CONVERT; fp16
    with AVX512-FP16, AMX-FP16 or AVX-NE-CONVERT; int8 with VNNI
    (AVX512-VNNI, AVX-VNNI) or AMX-INT8."""
    flags = set(flags)
    out = ['fp32']
    if flags & {'avx512_bf16', 'amx_bf16', 'avx_ne_convert'}:
        out.append('bf16')
    if flags & {'avx512_fp16', 'amx_fp16', 'avx_ne_convert'}:
        out.append('fp16')
    if flags & {'avx512_vnni', 'avx_vnni', 'amx_int8'}:
        out.append('int8')
    return out


def choose_precision(runtime: str, available: Sequence[str],
                     flags: Optional[Iterable[str]] = None
                     ) -> Tuple[str, str]:
    """(precision, why) for ``--precision auto``: the first precision of
    this CPU's :data:`SPEED_ORDER` (its class read from the flags: only
    precisions measured faster than fp32 on that class are listed) that is
    in ``available`` and accurate (:data:`KEYPOINT_SHIFT_P99` <=
    :data:`MAX_SHIFT_PX`).

    Args:
        runtime (str): ``'torch'`` or ``'onnxruntime'``.
        available (Sequence[str]): Precisions the caller can run (e.g. the
            precisions of the given ``.onnx`` files).
        flags (Iterable[str], optional): CPU flags; default
            :func:`cpu_flags`.

    Returns:
        tuple: The precision and a one-line reason naming the CPU class,
        the native precisions and the measured shift.

    Raises:
        ValueError: On an unknown runtime, or ``available`` without fp32
            that offers nothing this CPU runs fast and accurately.
    """
    if runtime not in KEYPOINT_SHIFT_P99:
        raise ValueError(f'unknown runtime {runtime!r}; choose from '
                         f'{list(KEYPOINT_SHIFT_P99)}')
    flags = set(cpu_flags() if flags is None else flags)
    native = native_precisions(flags)
    shifts = KEYPOINT_SHIFT_P99[runtime]
    cpu, order = 'pre-AVX2', ('fp32', )
    for name, needs, speed in SPEED_ORDER:
        if flags & needs:
            cpu, order = name, speed
            break
    skipped = []
    for precision in order:
        shift = shifts.get(precision)
        if precision not in available:
            continue
        if shift is None or shift > MAX_SHIFT_PX:
            skipped.append(f'{precision} p99 shift {shift} px > '
                           f'{MAX_SHIFT_PX} px')
        else:
            why = (f'fastest measured on {cpu} CPUs (native: '
                   f'{", ".join(native)}) with keypoints within '
                   f'{MAX_SHIFT_PX} px of fp32 (p99 {shift} px)'
                   if precision != 'fp32' else
                   f'nothing faster measured accurate on {cpu} CPUs '
                   f'(native: {", ".join(native)})')
            if skipped:
                why += '; skipped ' + ', '.join(skipped)
            return precision, why
    raise ValueError(f'none of the precisions {list(available)} runs '
                     f'fast and accurately on this {cpu} CPU ('
                     f'{", ".join(skipped) or "none measured"}); give an '
                     'fp32 model')
