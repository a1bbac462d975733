"""The fast inference path: same heatmaps in fp32, keypoints within half a
pixel in bf16, the intended layer rewrites, clear errors."""
import contextlib

import pytest
import torch
from torch import nn

from tests.deploy.helpers import tiny_config, tiny_model
from vitpose_mm.deploy import (EagerConv, FastConv, FastLinear, FastMoEMlp,
                               fold_batch_norms, onednn_supports,
                               optimize_for_inference)

BACKENDS = ['onednn', 'eager']
DECODERS = ['classic', 'simple']


def heatmaps(model, x, index=None):
    """(B, K, h, w) of the selected (or only) head."""
    with torch.no_grad():
        if index is None:
            return model(x, None, mode='tensor')
        head = model.heads[model.selected_dataset]
        return head(model.extract_feat(x, index))


@pytest.fixture(scope='module')
def models():
    """{(decoder, plus): tiny eager model}."""
    return {(d, p): tiny_model(tiny_config(d, p))
            for d in DECODERS for p in (False, True)}


@pytest.fixture(scope='module')
def crops():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(3, 3, 64, 48, generator=generator)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('decoder', DECODERS)
@pytest.mark.parametrize('plus', [False, True], ids=['vitpose', 'plus'])
def test_fp32_heatmaps_match_eager(models, crops, decoder, plus, backend):
    model = models[decoder, plus]
    # ViTPose+: a batch mixing both experts (routed per sample).
    index = torch.tensor([0, 1, 0]) if plus else None
    ref = heatmaps(model, crops, index)
    assert ref.abs().max() > 0.5  # so that 1e-4 is a real tolerance
    fast = optimize_for_inference(model, 'fp32', backend)
    out = heatmaps(fast, crops, index)
    assert out.dtype == torch.float32 and out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)


def test_batch_equals_samples_one_by_one(models, crops):
    fast = optimize_for_inference(models['classic', True])
    index = torch.tensor([1, 0, 1])
    batch = heatmaps(fast, crops, index)
    single = torch.cat([heatmaps(fast, crops[i:i + 1], index[i:i + 1])
                        for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_layers_are_rewritten_and_original_untouched(models, crops):
    model = models['classic', True]
    before = heatmaps(model, crops, torch.zeros(3, dtype=torch.long))
    fast = optimize_for_inference(model, 'fp32', 'eager')
    kinds = {type(m) for m in fast.modules()}
    assert nn.Linear not in kinds and nn.BatchNorm2d not in kinds
    assert FastMoEMlp in kinds and EagerConv in kinds
    assert all(m.gelu for m in fast.modules()
               if isinstance(m, FastLinear) and m.out_features == 128)
    assert not any(p.requires_grad for p in fast.parameters())
    assert fast.deploy_cfg == dict(precision='fp32', backend='eager')
    # The input model is not changed (inplace=False).
    assert any(isinstance(m, nn.Linear) for m in model.modules())
    after = heatmaps(model, crops, torch.zeros(3, dtype=torch.long))
    torch.testing.assert_close(after, before, rtol=0, atol=0)


def test_inplace_rewrites_the_given_model():
    model = tiny_model(tiny_config('simple'))
    assert optimize_for_inference(model, inplace=True) is model
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


@pytest.mark.skipif(not onednn_supports(torch.float32),
                    reason='PyTorch built without oneDNN')
def test_auto_picks_prepacked_onednn_where_it_is_faster(models):
    fast = optimize_for_inference(models['classic', False])
    avx512 = torch.backends.cpu.get_cpu_capability().startswith('AVX512')
    assert fast.deploy_cfg['backend'] == ('onednn' if avx512 else 'eager')
    onednn = optimize_for_inference(models['classic', False], backend='onednn')
    assert onednn.deploy_cfg['backend'] == 'onednn'
    assert any(isinstance(m, FastConv) and m.transposed
               for m in onednn.modules())


@pytest.mark.parametrize('precision,dtype', [('bf16', torch.bfloat16),
                                             ('fp16', torch.float16)])
def test_half_modes_keep_layernorm_and_heatmaps_float32(
        models, crops, precision, dtype):
    model = models['classic', False]
    # Without native half kernels 'auto' warns that the fallback is slow.
    expect = (contextlib.nullcontext() if onednn_supports(dtype) else
              pytest.warns(UserWarning, match='no native'))
    with expect:
        fast = optimize_for_inference(model, precision)
    norms = [m for m in fast.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)
    linears = [m for m in fast.modules() if isinstance(m, FastLinear)]
    assert linears and all(m.dtype == dtype for m in linears)
    seen = {}
    fast.backbone.last_norm.register_forward_hook(
        lambda mod, args, out: seen.update(norm=out.dtype))
    ref = heatmaps(model, crops)
    out = heatmaps(fast, crops)
    assert seen['norm'] == torch.float32 and out.dtype == torch.float32
    # Half precision changes the heatmaps, but only by rounding.
    error = (out - ref).abs().max() / ref.abs().max()
    assert 0 < error < 0.05


@pytest.mark.skipif(not onednn_supports(torch.bfloat16),
                    reason='this CPU has no native bf16 (AVX-512 / '
                    'AVX-NE-CONVERT); the prepacked bf16 path cannot run')
def test_onednn_bf16_matches_eager_bf16(models, crops):
    model = models['simple', True]
    index = torch.tensor([0, 1, 0])
    packed = heatmaps(optimize_for_inference(model, 'bf16', 'onednn'),
                      crops, index)
    eager = heatmaps(optimize_for_inference(model, 'bf16', 'eager'), crops,
                     index)
    ref = heatmaps(model, crops, index)
    assert (packed - ref).abs().max() < 0.05 * ref.abs().max()
    assert (packed - eager).abs().max() < 0.05 * ref.abs().max()


@pytest.mark.parametrize('transposed', [True, False])
def test_batch_norm_folds_into_the_right_conv_axis(transposed):
    """A BN after a ConvTranspose2d scales the weight's second axis (the
    bug torch.compile's freezing had); out != in channels catches it."""
    torch.manual_seed(0)
    conv = (nn.ConvTranspose2d(8, 6, 4, 2, 1, bias=False) if transposed
            else nn.Conv2d(8, 6, 3, 1, 1, bias=False))
    bn = nn.BatchNorm2d(6)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    seq = nn.Sequential(conv, bn, nn.ReLU()).eval()
    x = torch.randn(2, 8, 5, 4)
    with torch.no_grad():
        ref = seq(x)
        assert fold_batch_norms(seq) == 1
        assert isinstance(seq[1], nn.Identity)
        torch.testing.assert_close(seq(x), ref, rtol=0, atol=1e-5)
        if onednn_supports(torch.float32):
            fast = FastConv(seq[0], relu=True)
            torch.testing.assert_close(fast(x), ref, rtol=0, atol=1e-5)


def test_bad_arguments_raise_clear_errors(models):
    model = models['simple', False]
    with pytest.raises(ValueError, match="Unknown precision 'int4'"):
        optimize_for_inference(model, 'int4')
    with pytest.raises(ValueError, match="Unknown backend 'tensorrt'"):
        optimize_for_inference(model, backend='tensorrt')
    with pytest.raises(ValueError, match='optimized already'):
        optimize_for_inference(optimize_for_inference(model))
    if not onednn_supports(torch.bfloat16):
        with pytest.raises(ValueError, match='backend onednn cannot run'):
            optimize_for_inference(model, 'bf16', 'onednn')


def test_moe_index_errors_survive_the_rewrite(models, crops):
    fast = optimize_for_inference(models['classic', True])
    with pytest.raises(ValueError, match=r'out of range \[0, 2\)'):
        fast.backbone(crops, torch.tensor([0, 2, 0]))


@pytest.mark.parametrize('attn_type', ['full', 'shift_window'])
def test_bare_backbone_with_any_attention(attn_type):
    from vitpose_mm.models import ViTPoseBackbone
    torch.manual_seed(0)
    backbone = ViTPoseBackbone(img_size=(128, 96), embed_dim=32, depth=2,
                               num_heads=2, attn_types=attn_type,
                               window_size=4).eval()
    backbone.init_weights()
    x = torch.randn(2, 3, 128, 96)
    with torch.no_grad():
        ref = backbone(x)[0]
        out = optimize_for_inference(backbone)(x)[0]
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)
