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


def test_cli_picks_the_pose_file_by_precision(tmp_path, monkeypatch,
                                              capsys):
    import json

    import cv2

    import vitpose_runtime.precision as precision
    from conftest import blob_pose_onnx, dot_image
    from vitpose_runtime import cli
    fp32 = blob_pose_onnx(tmp_path / 'fp32.onnx')
    int8 = blob_pose_onnx(tmp_path / 'int8.onnx', precision='int8')
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), dot_image((80, 60)))
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'a.png': [[40, 20, 120, 100]]}))

    def run(*extra, flags=AVX2):
        monkeypatch.setattr(precision, 'cpu_flags', lambda: flags)
        out = tmp_path / f'out{len(list(tmp_path.iterdir()))}'
        code = cli.main(['--input', str(img), '--bboxes', str(boxes),
                         '--output-dir', str(out), '--no-render', *extra])
        return code, capsys.readouterr().err

    code, err = run('--pose-onnx', str(fp32), str(int8))
    assert code == 0 and 'precision auto: int8 (' in err and 'p99' in err
    code, err = run('--pose-onnx', str(fp32), str(int8), flags=[])
    assert code == 0 and 'precision auto: fp32 (' in err
    code, err = run('--pose-onnx', str(fp32), str(int8), '--precision',
                    'fp32')
    assert code == 0 and 'precision auto' not in err
    code, err = run('--pose-onnx', str(fp32), '--precision', 'int8')
    assert code == 1
    assert err.strip() == ('vitpose-runtime: --precision int8: no such '
                           '--pose-onnx file (given: fp32)')
    code, err = run('--pose-onnx', str(fp32), str(fp32))
    assert code == 1 and 'are both fp32' in err
