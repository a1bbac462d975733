"""The benchmarks' measuring pieces: GEMM peaks per precision, FLOPs
counted once on the fp32 model, each row over its own precision's peak."""
import argparse
import os
import sys

import pytest
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'benchmarks'))
import inference_speed  # noqa: E402
import peaks  # noqa: E402


class _Attention(nn.Module):
    """(B, 3, H, W) -> 2 heads of 8 channels over H*W tokens, then SDPA."""

    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(3, 48)

    def forward(self, x):
        B, C, H, W = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, N, 3)
        qkv = self.qkv(tokens).reshape(B, H * W, 3, 2, 8).permute(2, 0, 3, 1,
                                                                 4)
        return nn.functional.scaled_dot_product_attention(*qkv)


def test_count_gflop_counts_linear_and_cpu_attention():
    n = 4 * 6
    linear = 2 * n * 3 * 48
    attention = 2 * (2 * 2 * n * n * 8)  # q k^T and attn v, 2 heads
    gflop = peaks.count_gflop(_Attention(), shape=(2, 3, 4, 6))
    assert gflop == pytest.approx((linear + attention) / 1e9)


def test_gemm_peaks_measures_each_precision():
    out = peaks.gemm_peaks(['fp32', 'int8'], repeats=1, n=64)
    assert set(out) == {'fp32', 'int8'}
    assert 'torch.mm' in out['fp32'] and '_int_mm' in out['int8']
    assert all(v > 0 for rates in out.values() for v in rates.values())
    with pytest.raises(ValueError, match="'fp8'"):
        peaks.gemm_peaks(['fp8'], repeats=1, n=64)


def test_rows_use_the_fp32_count_and_their_own_peak():
    # No hf-eager in the list (the case that once reported int8 at 3
    # GFLOP/s): every row still gets the given fp32 count and its own peak.
    impls = {'fast': lambda x: x * 2, 'int8': lambda x: x * 2,
             'bf16': lambda x: x * 2}
    args = argparse.Namespace(repeats=1, warmup=0)
    rows = inference_speed.bench(impls, 'fast', 'hf-eager', [2], args, 'M',
                                 gflop=10.0)
    inference_speed.add_peaks(rows, {'fp32': 100.0, 'int8': 1000.0})
    by_impl = {row['impl']: row for row in rows}
    for name, row in by_impl.items():
        assert row['gflop_per_s'] == pytest.approx(row['images_per_s'] * 10)
        assert row['ratio'] is None
    assert by_impl['fast']['peak'] == 'fp32'
    assert by_impl['int8']['peak'] == 'int8'
    assert by_impl['int8']['peak_fraction'] == pytest.approx(
        by_impl['int8']['gflop_per_s'] / 1000)
    # No bf16 peak (not native here): over the fp32 peak, marked.
    assert by_impl['bf16']['peak'] == 'fp32*'
    assert by_impl['bf16']['peak_fraction'] == pytest.approx(
        by_impl['bf16']['gflop_per_s'] / 100)


def test_a_peak_is_the_fastest_call_and_the_faster_measurement(
        monkeypatch):
    # One slow call (a busy moment) does not lower a kernel's peak ...
    ticks = iter([0.0, 1.0, 1.0, 1.1, 1.1, 1.2])  # calls of 1.0, 0.1, 0.1 s
    monkeypatch.setattr(peaks.time, 'perf_counter', lambda: next(ticks))
    assert peaks._best_seconds(lambda: None, 3) == pytest.approx(0.1)
    monkeypatch.undo()
    # ... and the run keeps, per kernel, the faster of its two
    # measurements (before and after the rows).
    before = {'fp32': {'torch.mm': 500.0, 'onednn': 10.0}}
    monkeypatch.setattr(inference_speed, 'gemm_peaks', lambda p, r: {
        'fp32': {'torch.mm': 100.0, 'onednn': 200.0}})
    best, kernels = inference_speed.measure_peaks(['fast'], 1, 'after',
                                                  before)
    assert kernels['fp32'] == {'torch.mm': 500.0, 'onednn': 200.0}
    assert best == {'fp32': 500.0}
