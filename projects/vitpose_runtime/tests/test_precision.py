"""``--precision auto``: CPU flags -> native precisions -> the fastest
accurate precision, and why."""
import pytest

from vitpose_runtime.precision import (MAX_SHIFT_PX, choose_precision,
                                       cpu_flags, native_precisions)

AMX = ['avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_tile',
       'amx_bf16', 'amx_int8']
AVX512_BF16 = ['avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni']
AVX2 = ['avx2']
TORCH = ['fp32', 'bf16', 'fp16', 'int8']


@pytest.mark.parametrize('flags, native', [
    ([], ['fp32']),
    (AVX2, ['fp32']),
    (['avx2', 'avx_vnni'], ['fp32', 'int8']),
    (AVX512_BF16, ['fp32', 'bf16', 'int8']),
    (['amx_tile', 'amx_bf16', 'amx_int8'], ['fp32', 'bf16', 'int8']),
    (['avx512_bf16', 'avx512_fp16', 'avx512_vnni'],
     ['fp32', 'bf16', 'fp16', 'int8']),
])
def test_native_precisions(flags, native):
    assert native_precisions(flags) == native


def test_cpu_flags_reads_cpuinfo(tmp_path):
    info = tmp_path / 'cpuinfo'
    info.write_text('processor\t: 0\nflags\t\t: fpu sse avx2 avx512f '
                    'amx_int8 made_up\n')
    assert cpu_flags(str(info)) == ['avx2', 'avx512f', 'amx_int8']
    assert cpu_flags(str(tmp_path / 'missing')) == []


@pytest.mark.parametrize('runtime, available, flags, chosen', [
    # native bf16: the fastest measured, p99 0.075 px
    ('torch', TORCH, AMX, 'bf16'),
    ('torch', TORCH, AVX512_BF16, 'bf16'),
    # AVX2: bf16 is emulated (slower than fp32); torch int8 is faster
    # but its p99 shift (0.83 px) is over the limit
    ('torch', TORCH, AVX2, 'fp32'),
    ('torch', ['fp32', 'int8'], AMX, 'fp32'),
    # onnxruntime int8 is within the limit (p99 0.38 px)
    ('onnxruntime', ['fp32', 'int8'], AVX2, 'int8'),
    ('onnxruntime', ['fp32', 'int8'], AMX, 'int8'),
    ('onnxruntime', ['fp32'], AMX, 'fp32'),
    ('onnxruntime', ['int8'], AVX2, 'int8'),
    ('torch', TORCH, [], 'fp32'),
])
def test_choose_precision(runtime, available, flags, chosen):
    precision, why = choose_precision(runtime, available, flags)
    assert precision == chosen
    assert '\n' not in why and why


def test_the_reason_names_the_cpu_and_what_was_skipped():
    _, why = choose_precision('torch', TORCH, AMX)
    assert 'AMX-BF16' in why and 'p99 0.075 px' in why
    _, why = choose_precision('torch', TORCH, AVX2)
    assert 'AVX2' in why and f'int8 p99 shift 0.828 px > {MAX_SHIFT_PX}' \
        in why


def test_refusals():
    with pytest.raises(ValueError, match="'tensorrt'"):
        choose_precision('tensorrt', ['fp32'], AMX)
    # only int8 offered, and it is not accurate enough in torch
    with pytest.raises(ValueError, match='int8 p99 shift'):
        choose_precision('torch', ['int8'], AMX)
