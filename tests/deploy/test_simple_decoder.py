"""The folded simple decoder gives the decoder's heatmaps: checked against
mmpose's own ``FeatureMapProcessor`` followed by a plain ``nn.Conv2d``."""
import pytest
import torch
from mmpose.models.necks import FeatureMapProcessor
from torch import nn

from vitpose_mm.deploy import optimize_for_inference
from vitpose_mm.deploy.simple_decoder import (FoldedSimpleDecoder,
                                              fold_simple_decoder)

from .helpers import tiny_config, tiny_model


def _reference(neck, conv, x):
    return conv(neck((x, ))[-1])


@pytest.mark.parametrize('kernel,scale,align,bias', [
    (3, 4.0, False, True),   # ViTPose simple decoder
    (1, 4.0, False, True),
    (3, 2.0, True, False),
    (5, 3.0, False, True),
])
def test_fold_equals_upsample_then_conv(kernel, scale, align, bias):
    torch.manual_seed(0)
    neck = FeatureMapProcessor(scale_factor=scale, apply_relu=True,
                               align_corners=align)
    conv = nn.Conv2d(24, 5, kernel, padding=kernel // 2, bias=bias)
    x = torch.randn(2, 24, 7, 5)  # non-square, odd sizes: borders matter
    with torch.no_grad():
        expected = _reference(neck, conv, x)
        (out, ) = FoldedSimpleDecoder(neck, conv)((x, ))
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=0,
                               atol=1e-5 * expected.abs().max().item())


def test_other_heads_with_a_final_layer_are_not_folded():
    # RTMCC's head starts with a final_layer conv, then does more.
    from mmpose.models.heads import RTMCCHead
    model = tiny_model(tiny_config('simple'))
    model.head = RTMCCHead(in_channels=64, out_channels=17,
                           input_size=(48, 64), in_featuremap_size=(12, 16))
    assert fold_simple_decoder(model) is None


def test_a_neck_without_relu_is_refused():
    neck = FeatureMapProcessor(scale_factor=4.0, apply_relu=False)
    with pytest.raises(ValueError, match='cannot fold FeatureMapProcessor'):
        FoldedSimpleDecoder(neck, nn.Conv2d(8, 2, 3, padding=1))


def test_fold_reads_channels_last_and_half_features():
    torch.manual_seed(1)
    neck = FeatureMapProcessor(scale_factor=4.0, apply_relu=True)
    conv = nn.Conv2d(16, 3, 3, padding=1)
    x = torch.randn(2, 16, 4, 3).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = _reference(neck, conv, x.float())
        (out, ) = FoldedSimpleDecoder(neck, conv)((x.bfloat16(), ))
    assert out.dtype == torch.float32 and out.is_contiguous()
    # bf16 features: rounding of the input only.
    assert (out - expected).abs().max() < 0.02 * expected.abs().max()


def test_optimize_folds_only_the_simple_decoder():
    simple = optimize_for_inference(tiny_model(tiny_config('simple')))
    assert isinstance(simple.neck, FoldedSimpleDecoder)
    assert isinstance(simple.head.final_layer, nn.Identity)
    classic = optimize_for_inference(tiny_model(tiny_config('classic')))
    assert not any(isinstance(m, FoldedSimpleDecoder)
                   for m in classic.modules())
    plus = tiny_model(tiny_config('simple', plus=True))
    assert fold_simple_decoder(plus) is None
    kept = optimize_for_inference(tiny_model(tiny_config('simple')),
                                  fold_decoder=False)
    assert isinstance(kept.neck, FeatureMapProcessor)
    assert not isinstance(kept.head.final_layer, nn.Identity)


@pytest.mark.parametrize('conv', [
    nn.Conv2d(8, 2, 3, padding=0),             # padding not k // 2
    nn.Conv2d(8, 2, 3, padding=1, stride=2),
    nn.Conv2d(8, 2, 3, padding=1, padding_mode='reflect'),
    nn.Conv2d(8, 2, (3, 1), padding=(1, 0)),
])
def test_other_final_layers_are_not_folded(conv):
    model = tiny_model(tiny_config('simple'))
    model.head.final_layer = conv
    assert fold_simple_decoder(model) is None
    assert model.head.final_layer is conv
    with pytest.raises(ValueError, match='cannot fold Conv2d'):
        FoldedSimpleDecoder(model.neck, conv)


@pytest.mark.parametrize('plus', [False, True])
def test_heatmap_net_and_onnx_fold_with_eager_heatmaps(plus, tmp_path):
    """The ONNX graph (and ``HeatmapNet``, which it is traced from) folds
    the decoder and still gives the eager estimator's heatmaps."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    from vitpose_mm.deploy import HeatmapNet, OnnxPoseModel, export_onnx
    model = tiny_model(tiny_config('simple', plus=plus))
    x = torch.randn(3, 3, 64, 48)
    with torch.no_grad():
        if plus:
            index = torch.zeros(3, dtype=torch.long)
            ref = model.heads['coco'](model.extract_feat(x, index))
        else:
            ref = model(x, None, mode='tensor')
        net = HeatmapNet(model, 'coco' if plus else None)
        assert isinstance(net.folded_decoder, FoldedSimpleDecoder)
        torch.testing.assert_close(net(x), ref, rtol=0, atol=1e-5)
    path = export_onnx(model, tmp_path / 'm.onnx',
                       dataset='coco' if plus else None)
    import onnx
    opsets = {o.domain: o.version for o in onnx.load(str(path)).opset_import}
    assert opsets.get('', opsets.get('ai.onnx')) == 17  # as requested
    out = OnnxPoseModel(path).heatmaps(x)
    np_ref = ref.numpy()
    assert abs(out - np_ref).max() < 1e-4 * abs(np_ref).max()
    # A classic decoder is not folded.
    classic = HeatmapNet(tiny_model(tiny_config('classic')))
    assert classic.folded_decoder is None
