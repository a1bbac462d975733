"""Behaviour of the ViTPose backbone and its layers."""
import pytest
import torch
from mmpose.registry import MODELS

from tests.tiny import TINY_VIT, tiny_backbone
from vitpose_mm.models import VITPOSE_ARCHS, ViTPoseBackbone
from vitpose_mm.models.layers import Attention, resize_pos_embed

TINY = dict(TINY_VIT, depth=3)


def tiny(**kwargs):
    return tiny_backbone(base=TINY, **kwargs)


def test_registered_name_resolves_to_our_class():
    model = MODELS.build(dict(type='ViTPoseBackbone', **TINY))
    assert type(model) is ViTPoseBackbone


@pytest.mark.parametrize('arch,dims', [
    ('small', (384, 12, 12)), ('base', (768, 12, 12)),
    ('large', (1024, 24, 16)), ('huge', (1280, 32, 16))])
def test_presets_are_the_paper_sizes(arch, dims):
    # ViTPose paper, Table 1; ViTPose-S is not mmpretrain's 'small'.
    cfg = VITPOSE_ARCHS[arch]
    assert (cfg['embed_dim'], cfg['depth'], cfg['num_heads']) == dims


def test_preset_built_with_explicit_override():
    model = ViTPoseBackbone(arch='small', depth=2, img_size=(64, 48))
    assert (model.embed_dim, model.depth, model.num_heads) == (384, 2, 12)
    with pytest.raises(ValueError, match="Unknown ViTPose arch 'tiny'"):
        ViTPoseBackbone(arch='tiny')


@pytest.mark.parametrize('ratio,grid', [(1, (4, 3)), (2, (8, 6))])
def test_output_is_one_feature_map(ratio, grid):
    model = tiny(ratio=ratio).eval()
    out = model(torch.randn(2, 3, 64, 48))
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].shape == (2, 32, *grid)
    assert model.pos_embed.shape == (1, 1 + grid[0] * grid[1], 32)


def test_wrong_input_size_names_img_size():
    with pytest.raises(ValueError, match=r'img_size=\(64, 48\)'):
        tiny().eval()(torch.randn(1, 3, 64, 64))


def test_batch_equals_samples_one_by_one():
    model = tiny().eval()
    x = torch.randn(3, 3, 64, 48)
    with torch.no_grad():
        batch = model(x)[0]
        single = torch.cat([model(x[i:i + 1])[0] for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_sdpa_agrees_with_explicit_softmax_attention():
    torch.manual_seed(0)
    attn = Attention(64, num_heads=4, qkv_bias=True).eval()
    x = torch.randn(2, 12, 64)
    torch.testing.assert_close(attn(x), attn.forward_manual(x), rtol=0,
                               atol=1e-5)


def test_token_order_is_row_major():
    """The map is (B, C, Hp, Wp) with tokens laid out row by row."""
    tokens = torch.arange(12.).view(1, 12, 1)
    fmap = ViTPoseBackbone.tokens_to_map(tokens, (4, 3))
    assert fmap[0, 0, 1, 0] == 3 and fmap[0, 0, 0, 2] == 2


def test_feature_map_is_a_channels_last_view_of_the_tokens():
    tokens = torch.randn(2, 12, 5)
    fmap = ViTPoseBackbone.tokens_to_map(tokens, (4, 3))
    assert fmap.shape == (2, 5, 4, 3)
    assert fmap.is_contiguous(memory_format=torch.channels_last)
    assert fmap.data_ptr() == tokens.data_ptr()  # no copy
    # The original's NCHW copy holds the same values.
    torch.testing.assert_close(
        fmap, tokens.transpose(1, 2).reshape(2, 5, 4, 3), rtol=0, atol=0)


def test_cls_row_is_added_to_every_token():
    model = tiny(depth=0).eval()
    model.last_norm = torch.nn.Identity()
    x = torch.randn(1, 3, 64, 48)
    base = model(x)[0]
    with torch.no_grad():
        model.pos_embed[0, 0] += 1.0  # the cls row
    shifted = model(x)[0]
    torch.testing.assert_close(shifted - base, torch.ones_like(base))


def test_frozen_stages_freeze_the_first_blocks():
    model = tiny(frozen_stages=2).train()
    assert not model.pos_embed.requires_grad
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    for i, blk in enumerate(model.blocks):
        frozen = i < 2
        assert all(p.requires_grad != frozen for p in blk.parameters()), i
        assert blk.training != frozen
    with pytest.raises(ValueError, match='frozen_stages=4 exceeds depth=3'):
        tiny(frozen_stages=4)


@pytest.mark.parametrize('flag,frozen,trained', [
    ('freeze_attn', ('norm1', 'attn'), ('norm2', 'mlp')),
    ('freeze_ffn', ('norm2', 'mlp'), ('norm1', 'attn'))])
def test_partial_freezing_survives_train_and_a_step(flag, frozen, trained):
    model = tiny(**{flag: True}).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(torch.randn(2, 3, 64, 48))[0].square().mean().backward()
    opt.step()
    after = model.state_dict()
    for i, blk in enumerate(model.blocks):
        for name in frozen:
            assert not getattr(blk, name).training
            for k in getattr(blk, name).state_dict():
                key = f'blocks.{i}.{name}.{k}'
                assert torch.equal(before[key], after[key]), key
        for name in trained:
            for p in getattr(blk, name).parameters():
                assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_activation_checkpointing_gives_the_same_gradients():
    x = torch.randn(2, 3, 64, 48)
    weights = torch.randn(2, 32, 4, 3)
    grads = []
    for use_checkpoint in (False, True):
        model = tiny(use_checkpoint=use_checkpoint, drop_path_rate=0.).train()
        (model(x)[0] * weights).sum().backward()
        grads.append(model.blocks[0].attn.qkv.weight.grad)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1])


def test_resize_pos_embed_keeps_cls_row_and_interpolates_grid():
    pos = torch.randn(1, 1 + 14 * 14, 8)
    out = resize_pos_embed(pos, (14, 14), (16, 12))
    assert out.shape == (1, 1 + 16 * 12, 8)
    torch.testing.assert_close(out[:, 0], pos[:, 0])
    grid = pos[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    ref = torch.nn.functional.interpolate(grid, size=(16, 12),
                                         mode='bicubic', align_corners=False)
    torch.testing.assert_close(out[:, 1:],
                               ref.permute(0, 2, 3, 1).reshape(1, -1, 8))
    with pytest.raises(ValueError, match='197 rows'):
        resize_pos_embed(pos, (16, 12), (14, 14))
