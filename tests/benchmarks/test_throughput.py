"""The throughput tool (original speed_test.py protocol): its CPU path
writes a table, its GPU settings parse, refusals are one line."""
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
import throughput  # noqa: E402

TINY = ('configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
        'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')


def run(*args):
    proc = subprocess.run(
        [sys.executable, 'benchmarks/throughput.py', *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def test_cpu_run_writes_one_row_per_setting(tmp_path):
    out = tmp_path / 'table.md'
    code, stdout, _ = run('--config', TINY, '--batch', 2, '--warmup', 0,
                          '--iters', 1, '--precisions', 'fp32', 'bf16',
                          '--channels-last', '--markdown', out)
    assert code == 0
    text = out.read_text()
    assert text.strip() == stdout.strip()
    rows = [line.split('|')[1:-1] for line in text.splitlines()
            if line.startswith('| config')]
    assert [[c.strip() for c in r[:5]] for r in rows] == [
        ['config', '128x96', '2', 'fp32', 'no'],
        ['config', '128x96', '2', 'bf16 AMP', 'no']]
    assert all(float(r[5]) > 0 for r in rows)


def test_gpu_settings_parse():
    args = throughput.parse_args(
        ['--device', 'cuda', '--batch', '64', '--precisions', 'fp32', 'fp16',
         'bf16', '--compile', 'both', '--channels-last'])
    assert args.batch == 64 and args.warmup == 100 and args.iters == 100
    assert throughput.settings(args) == [
        dict(precision=p, compile=c) for p in ('fp32', 'fp16', 'bf16')
        for c in (False, True)]


@pytest.mark.parametrize('args, message', [
    (['--config', 'configs/missing.py'], 'config configs/missing.py not '
     'found'),
    (['--device', 'cuda', '--models', 'S'], 'no CUDA device here'),
])
def test_refusals_are_one_line(args, message):
    if '--device' in args and torch.cuda.is_available():
        pytest.skip('a CUDA device is here')
    code, _, stderr = run(*args)
    assert code == 1
    line = stderr.strip().splitlines()[-1]
    assert line.startswith('throughput: ')
    assert message in line


def test_bad_numbers_are_usage_errors():
    code, _, stderr = run('--batch', 0)
    assert code == 2 and 'must be >= 1, got 0' in stderr


def test_gpu_script_refuses_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is here')
    out = tmp_path / 'gpu.md'
    proc = subprocess.run(
        ['bash', 'scripts/gpu_throughput.sh', str(out), '--models', 'S'],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHON=sys.executable))
    assert proc.returncode == 1
    assert proc.stderr.strip() == ('throughput: --device cuda: no CUDA '
                                   'device here')
    assert not out.exists()
