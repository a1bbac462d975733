"""Initialising ViTPoseBackbone from an MAE pre-training checkpoint through
``init_cfg``: weights land, ``pos_embed`` is resized bicubically from the
14x14 grid to the non-square pose grid, and MAE's final ``norm`` is not
taken for ``last_norm`` (as in the original ViTPose)."""
import math

import numpy as np
import pytest
import torch

from tests.checkpoint.helpers import randomise_
from vitpose_mm.models.backbones import ViTPoseBackbone

C, DEPTH, HEADS = 32, 2, 4
IMG = (256, 192)  # 16x12 tokens


def fake_mae_file(path, width=C):
    """An MAE-style file: bare timm keys under 'model', 14x14 + cls
    position table, cls/mask tokens, final norm and decoder weights."""
    gen = torch.Generator().manual_seed(5)
    donor = randomise_(
        ViTPoseBackbone(
            img_size=(224, 224), embed_dim=width, depth=DEPTH,
            num_heads=HEADS), 6)
    state = {
        k: v
        for k, v in donor.state_dict().items() if not k.startswith('last_norm')
    }
    state.update({
        'pos_embed': torch.randn(1, 1 + 14 * 14, width, generator=gen),
        'cls_token': torch.randn(1, 1, width, generator=gen),
        'mask_token': torch.randn(1, 1, 16, generator=gen),
        'norm.weight': 2 + torch.rand(width, generator=gen),
        'norm.bias': torch.rand(width, generator=gen),
        'decoder_embed.weight': torch.randn(16, width, generator=gen),
        'decoder_pos_embed': torch.randn(1, 197, 16, generator=gen),
        'decoder_blocks.0.norm1.weight': torch.ones(16),
        'decoder_norm.weight': torch.ones(16),
        'decoder_pred.weight': torch.randn(768, 16, generator=gen),
    })
    torch.save({'model': state}, path)
    return state


def cubic_matrix(n_in, n_out, a=-0.75):
    """(n_out, n_in) 1-D bicubic resampling, half-pixel centres, clamped
    borders: Keys' cubic convolution with a = -0.75 (PyTorch's choice)."""

    def kernel(d):
        d = abs(d)
        if d <= 1:
            return ((a + 2) * d - (a + 3)) * d * d + 1
        if d < 2:
            return a * (d**3 - 5 * d * d + 8 * d - 4)
        return 0.

    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = (o + 0.5) * n_in / n_out - 0.5
        base = math.floor(src)
        for k in range(base - 1, base + 3):
            m[o, min(max(k, 0), n_in - 1)] += kernel(src - k)
    return m


def reference_resize(pos, src_hw, dst_hw):
    """(1, 1 + Hs*Ws, C) -> (1, 1 + Hd*Wd, C), cls row kept, in float64."""
    grid = pos[0, 1:].double().numpy().reshape(*src_hw, -1)
    mh, mw = cubic_matrix(src_hw[0],
                          dst_hw[0]), cubic_matrix(src_hw[1], dst_hw[1])
    out = np.einsum('ah,hwc,bw->abc', mh, grid,
                    mw).reshape(1, -1, grid.shape[2])
    return torch.cat([pos[:, :1].double(), torch.from_numpy(out)], dim=1)


def test_mae_checkpoint_initialises_backbone(tmp_path):
    path = tmp_path / 'mae_pretrain_vit_tiny.pth'
    mae = fake_mae_file(path)
    backbone = ViTPoseBackbone(
        img_size=IMG,
        embed_dim=C,
        depth=DEPTH,
        num_heads=HEADS,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    own = backbone.state_dict()
    for key in ('patch_embed.proj.weight', 'blocks.0.attn.qkv.weight',
                'blocks.1.mlp.fc2.bias', 'blocks.1.norm2.weight'):
        assert torch.equal(own[key], mae[key]), key
    # MAE's final `norm` is not ViTPose's `last_norm` (original behaviour)
    assert torch.equal(own['last_norm.weight'], torch.ones(C))
    assert torch.equal(own['last_norm.bias'], torch.zeros(C))
    pos = own['pos_embed']
    assert pos.shape == (1, 1 + 16 * 12, C)
    assert torch.equal(pos[:, 0], mae['pos_embed'][:, 0])  # cls row kept
    expected = reference_resize(mae['pos_embed'], (14, 14), (16, 12))
    torch.testing.assert_close(pos.double(), expected, rtol=0, atol=1e-5)


def test_mae_checkpoint_of_another_width_is_refused(tmp_path):
    path = tmp_path / 'mae_wide.pth'
    fake_mae_file(path, width=48)
    backbone = ViTPoseBackbone(
        img_size=IMG,
        embed_dim=C,
        depth=DEPTH,
        num_heads=HEADS,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(
            ValueError,
            match=r'patch_embed\.proj\.weight: checkpoint '
            r'\(48, 3, 16, 16\) vs model \(32, 3, 16, 16\)'):
        backbone.init_weights()


def test_shallower_mae_checkpoint_is_refused_listing_the_blocks(tmp_path):
    """A 2-block MAE file for a 4-block ViTPose would leave blocks 2-3
    random: refused, naming them; last_norm alone may be absent."""
    path = tmp_path / 'mae_shallow.pth'
    fake_mae_file(path)
    backbone = ViTPoseBackbone(
        img_size=IMG,
        embed_dim=C,
        depth=4,
        num_heads=HEADS,
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError) as exc:
        backbone.init_weights()
    msg = str(exc.value)
    assert 'lacks 24 tensors' in msg and 'blocks.2-3.*' in msg, msg
    assert 'last_norm' not in msg


def test_only_last_norm_and_relative_positions_may_be_absent():
    from vitpose_mm.models.backbones.vit import may_lack
    assert may_lack('blocks.3.attn.rel_pos_h')
    assert may_lack('last_norm.weight')
    assert not may_lack('blocks.3.attn.qkv.weight')
    assert not may_lack('blocks.0.mlp.experts.0.weight')
