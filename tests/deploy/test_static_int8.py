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
