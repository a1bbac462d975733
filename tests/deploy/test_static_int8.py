"""Static int8 (PT2E, x86 inductor quantiser) on real COCO crops:
calibrated on the crops, keypoints close to fp32 with the quantise /
dequantise graph and with its compiled (fused, frozen) form (needs
../shared/data/coco and torchao).

Same model and comparison as ``test_int8``: the fitted tiny ViTPose
(simple decoder, 256x192), crop pixels, clear peaks only. The compiled
form is checked against the uncompiled one too, since inductor's freezing
folds the head's BatchNorm into its deconvolutions (a fusion that once
went wrong, issue 12).
"""
import pytest
import torch

from tests.deploy.test_int8 import check_close, setup  # noqa: F401

pytest.importorskip('torchao')


def test_static_int8_keypoints_close_to_fp32(setup):  # noqa: F811
    from vitpose_mm.deploy.static_int8 import quantize_static_int8
    model, inputs = setup
    with torch.no_grad():
        fp32 = model(inputs, None, mode='tensor')
    reference = quantize_static_int8(model, inputs, compile=False)(inputs)
    check_close(model, fp32, reference)
    compiled = quantize_static_int8(model, inputs)
    out = compiled(inputs)
    check_close(model, fp32, out)
    assert out.dtype == torch.float32 and out.shape == fp32.shape
    # a batch size other than the calibration's runs too (dynamic batch)
    assert torch.allclose(compiled(inputs[:3]), out[:3], atol=1e-2 *
                          float(fp32.abs().max()))


def test_refusals():
    from vitpose_mm.deploy.static_int8 import quantize_static_int8
    with pytest.raises(ValueError, match=r'\(2, 1, 8, 8\)'):
        quantize_static_int8(torch.nn.Linear(2, 2), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="attention='fp16'"):
        quantize_static_int8(torch.nn.Linear(2, 2), torch.zeros(2, 3, 8, 8),
                             attention='fp16')


@pytest.mark.parametrize('flags,dtype', [
    (['avx2', 'avx512_vnni'], None),           # no native bf16: fp32
    (['avx512_bf16', 'avx512_vnni'], torch.bfloat16),
    (['amx_bf16', 'amx_int8'], torch.bfloat16),
])
def test_auto_attention_follows_the_cpu_flags(monkeypatch, flags, dtype):
    import vitpose_runtime.precision as precision

    from vitpose_mm.deploy.static_int8 import _attention_dtype
    monkeypatch.setattr(precision, 'cpu_flags', lambda: flags)
    assert _attention_dtype('auto') is dtype
    assert _attention_dtype('fp32') is None
    assert _attention_dtype('bf16') is torch.bfloat16


def test_attention_product_in_bf16_keeps_the_stream_float32():
    from vitpose_mm.models.layers import Attention
    torch.manual_seed(0)
    attn = Attention(64, num_heads=4, qkv_bias=True).eval()
    x = torch.randn(2, 48, 64)
    with torch.no_grad():
        ref = attn(x)
        attn.sdpa_dtype = torch.bfloat16
        seen = {}
        attn.proj.register_forward_hook(
            lambda m, args, out: seen.update(dtype=args[0].dtype))
        out = attn(x)
    assert out.dtype == torch.float32 and seen['dtype'] == torch.float32
    error = float((out - ref).abs().max() / ref.abs().max())
    assert 0 < error < 2e-2  # bf16 rounding of q, k, v and the product
