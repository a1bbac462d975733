"""The flexibility studies of the ViTPose paper (Sec. 3.3) on the backbone:
attention type per block, finer tokens, other input resolutions with
position-embedding interpolation, and partial fine-tuning."""
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpose.registry import MODELS

from tests.tiny import TINY_VIT, tiny_backbone
from vitpose_mm.models import ViTPosePlusBackbone
from vitpose_mm.models.layers import Attention, WindowAttention

TINY = {k: v for k, v in TINY_VIT.items() if k != 'img_size'}
COCO = Path(__file__).resolve().parents[2] / (
    'configs/body_2d_keypoint/topdown_heatmap/coco')


def tiny(**kwargs):
    return tiny_backbone(eval=True, **kwargs)


# ------------------------------------------------------- attention type --
@pytest.mark.parametrize('ratio,grid', [(1, (4, 3)), (2, (8, 6))])
@pytest.mark.parametrize('attn_types', [
    'window', ['window', 'shift_window'], 'pool_window',
    ['shift_pool_window', 'full']])
def test_attention_types_give_the_feature_map(ratio, grid, attn_types):
    model = tiny(ratio=ratio, attn_types=attn_types, window_size=(2, 2))
    out = model(torch.randn(2, 3, 64, 48))[0]
    assert out.shape == (2, 32, *grid)
    kinds = attn_types if isinstance(attn_types, list) else [attn_types] * 2
    for blk, kind in zip(model.blocks, kinds):
        assert isinstance(blk.attn, WindowAttention) == (kind != 'full')


def test_blocks_get_the_grid_window_covering_map_equals_full_model():
    """At 1/8 resolution (8x6 tokens), windows as large as the map, shifted
    or not, give the full-attention backbone: the blocks pass the grid and
    the full-attention weights load into the window model."""
    full = tiny(ratio=2)
    window = tiny(ratio=2, attn_types=['window', 'shift_window'],
                  window_size=(8, 6))
    missing, unexpected = window.load_state_dict(full.state_dict(),
                                                 strict=False)
    assert unexpected == [] and all('rel_pos' in k for k in missing)
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        torch.testing.assert_close(window(x)[0], full(x)[0], rtol=0,
                                   atol=1e-5)
        # Smaller windows change the result: the blocks use them.
        window = tiny(ratio=2, attn_types='window', window_size=(4, 3))
        window.load_state_dict(full.state_dict(), strict=False)
        assert not torch.allclose(window(x)[0], full(x)[0], atol=1e-3)


def test_vitpose_plus_blocks_take_window_attention_too():
    model = ViTPosePlusBackbone(
        **TINY, img_size=(64, 48), ratio=2, num_expert=2, part_features=8,
        attn_types='shift_pool_window', window_size=4).eval()
    out = model(torch.randn(2, 3, 64, 48), torch.tensor([0, 1]))[0]
    assert out.shape == (2, 32, 8, 6)
    assert all(isinstance(b.attn, WindowAttention) for b in model.blocks)


def test_bad_attention_config_is_an_error():
    with pytest.raises(ValueError, match='attn_types has 3 entries for '
                       'depth=2'):
        tiny(attn_types=['window'] * 3)
    with pytest.raises(ValueError, match="Unknown attention type 'swin'"):
        tiny(attn_types=['swin', 'full'])


# ----------------------------------------------------------- resolution --
def expected_resize(pos, src, dst):
    """cls row kept, grid bicubic-resized (the definition, via torch)."""
    C = pos.shape[-1]
    grid = pos[:, 1:].reshape(1, *src, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst, mode='bicubic', align_corners=False)
    return torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, C)],
                     dim=1)


@pytest.mark.parametrize('img_size,grid', [((384, 288), (24, 18)),
                                           ((576, 432), (36, 27))])
def test_256x192_weights_load_at_higher_resolution(img_size, grid):
    """A 16x12 pos_embed (256x192) is resized on load_state_dict, as
    mmengine's load_from does, to the grid of the larger input."""
    src = tiny(img_size=(256, 192), depth=1)
    assert src.pos_embed.shape == (1, 1 + 16 * 12, 32)
    dst = tiny(img_size=img_size, depth=1)
    dst.load_state_dict(src.state_dict())
    assert dst.pos_embed.shape == (1, 1 + grid[0] * grid[1], 32)
    torch.testing.assert_close(
        dst.pos_embed, expected_resize(src.pos_embed, (16, 12), grid))
    torch.testing.assert_close(dst.blocks[0].attn.qkv.weight,
                               src.blocks[0].attn.qkv.weight, rtol=0, atol=0)
    assert dst(torch.randn(1, 3, *img_size))[0].shape == (1, 32, *grid)


def test_pretrained_file_grid_is_inferred_or_given(tmp_path):
    """init_cfg loading: a square MAE grid, the model's aspect ratio, and
    an explicit ``pos_embed_grid`` for a grid that fits neither."""
    dst = tiny(img_size=(384, 288), depth=1)
    C = 32
    cases = [((14, 14), None), ((16, 12), None), ((12, 8), (12, 8))]
    for src_grid, hint in cases:
        pos = torch.randn(1, 1 + src_grid[0] * src_grid[1], C)
        path = tmp_path / f'mae_{src_grid[0]}x{src_grid[1]}.pth'
        # a whole backbone (a partial one is refused), its own grid
        state = {k: v for k, v in dst.state_dict().items()
                 if not k.startswith('last_norm')}
        state.update({'pos_embed': pos,
                      'blocks.0.norm1.weight': torch.full((C, ), 2.)})
        torch.save(state, path)
        dst.load_pretrained(str(path), pos_embed_grid=hint)
        torch.testing.assert_close(
            dst.pos_embed, expected_resize(pos, src_grid, (24, 18)))
        assert (dst.blocks[0].norm1.weight == 2).all()
    with pytest.raises(ValueError, match='96 grid tokens.*pos_embed_grid'):
        dst.load_pretrained(str(path))  # 12x8 without the hint


# ------------------------------------------------- partial fine-tuning --
def estimator(**backbone):
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', img_size=(64, 48),
                      drop_rate=0.1, **TINY, **backbone),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=3,
                  deconv_out_channels=(8, ), deconv_kernel_sizes=(4, ),
                  loss=dict(type='KeypointMSELoss'))))
    model.init_weights()
    return model


@pytest.mark.parametrize('flag,frozen,trained', [
    ('freeze_attn', ('norm1', 'attn'), ('norm2', 'mlp')),
    ('freeze_ffn', ('norm2', 'mlp'), ('norm1', 'attn'))])
def test_frozen_parts_do_not_move_and_have_no_optimizer_state(
        flag, frozen, trained):
    model = estimator(**{flag: True})
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.1),
        constructor='ViTPoseLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(num_layers=2, layer_decay_rate=0.75)))
    model.train()
    before = {k: v.clone() for k, v in model.named_parameters()}
    feats = model.extract_feat(torch.randn(2, 3, 64, 48))
    wrapper.update_params(model.head.forward(feats).square().mean())

    optimized = {id(p) for g in wrapper.param_groups for p in g['params']}
    state = wrapper.optimizer.state
    named = dict(model.named_parameters())
    for i, blk in enumerate(model.backbone.blocks):
        for part in frozen:
            assert not getattr(blk, part).training, (i, part)
            for k, p in getattr(blk, part).named_parameters():
                name = f'backbone.blocks.{i}.{part}.{k}'
                assert not p.requires_grad and p.grad is None, name
                assert id(p) not in optimized and p not in state, name
                assert torch.equal(named[name], before[name]), name
        for part in trained:
            assert getattr(blk, part).training
            for k, p in getattr(blk, part).named_parameters():
                name = f'backbone.blocks.{i}.{part}.{k}'
                assert 'exp_avg' in state[p], name
                assert not torch.equal(named[name], before[name]), name
    embed_frozen = flag == 'freeze_ffn'  # the original freezes them too
    assert model.backbone.pos_embed.requires_grad != embed_frozen


# --------------------------------------------------------------- configs --
@pytest.mark.parametrize('name,ratio,grid,heatmap,deconvs', [
    ('vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-384x288.py', 1, (24, 18),
     (72, 96), 2),
    ('vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-576x432.py', 1, (36, 27),
     (108, 144), 2),
    ('vitpose-mm_td-hm_ViTPose-base-ratio2_8xb64-210e_coco-256x192.py', 2, (32, 24),
     (48, 64), 1),
    ('vitpose-mm_td-hm_ViTPose-base-ratio2-shift-pool-window_8xb64-210e_coco-256x192'
     '.py', 2, (32, 24), (48, 64), 1),
])
def test_variant_configs_agree_on_sizes(name, ratio, grid, heatmap, deconvs):
    """Backbone grid x head upsampling = heatmap = 1/4 of the input, and
    the codec, both pipelines and the decoder use one input size."""
    cfg = Config.fromfile(str(COCO / name))
    codec = cfg.model.head.decoder
    w, h = codec['input_size']
    assert tuple(cfg.model.backbone.img_size) == (h, w)
    assert cfg.model.backbone.get('ratio', 1) == ratio
    assert (h * ratio // 16, w * ratio // 16) == grid
    assert tuple(codec['heatmap_size']) == heatmap == (w // 4, h // 4)
    assert len(cfg.model.head.deconv_out_channels) == deconvs
    assert grid[0] * 2**deconvs == heatmap[1]
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        for t in loader.dataset.pipeline:
            if t['type'] == 'TopdownAffine':
                assert tuple(t['input_size']) == (w, h)
            if t['type'] == 'GenerateTarget':
                assert t['encoder'] == codec


def test_full_attention_is_unchanged_by_default():
    assert all(type(b.attn) is Attention for b in tiny().blocks)
