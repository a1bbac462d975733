"""Window, shifted-window and pooling-window attention (ViTPose Sec. 3.3).

The batched implementation is checked against a token-by-token reference
written from the definitions (which keys a query sees, what a pooled key
is, what the relative position term adds), not from the implementation's
masks.
"""
import math

import pytest
import torch

from vitpose_mm.models.layers import (Attention, WindowAttention,
                                      build_attention)

DIM, HEADS = 16, 2


def make(window_size, shift=False, pool=False, rel_pos=True,
         random_tables=True):
    torch.manual_seed(0)
    attn = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=window_size,
                           shift=shift, pool=pool, rel_pos=rel_pos).eval()
    if rel_pos and random_tables:
        with torch.no_grad():
            attn.rel_pos_h.normal_()
            attn.rel_pos_w.normal_()
    return attn


def reference(attn: WindowAttention, x: torch.Tensor, grid) -> torch.Tensor:
    """Attention of every query over the keys of its (shifted) window.

    Windows tile the grid padded to a multiple of the window, starting at
    offset -shift along each axis with wrap-around (Swin); a key is seen
    when it is in the query's window and not brought there by the
    wrap-around (its offset to the query is smaller than the window). With
    ``pool``, every query also sees one key per window: the mean key and
    value of the window's tokens, with no position term.
    """
    H, W = grid
    wh, ww, sh, sw = attn.layout(grid)
    Hpad, Wpad = math.ceil(H / wh) * wh, math.ceil(W / ww) * ww
    B, N, C = x.shape
    hd = attn.head_dim
    q, k, v = attn.qkv(x).reshape(B, N, 3, HEADS, hd).unbind(2)
    pos = [(h, w) for h in range(H) for w in range(W)]
    cell = [(((h - sh) % Hpad) // wh, ((w - sw) % Wpad) // ww)
            for h, w in pos]
    cells = sorted(set(cell))
    pooled = [[j for j in range(N) if cell[j] == c] for c in cells]
    out = torch.zeros(B, N, HEADS, hd)
    for i, (hi, wi) in enumerate(pos):
        keys = [j for j in range(N) if cell[j] == cell[i]
                and abs(pos[j][0] - hi) < wh and abs(pos[j][1] - wi) < ww]
        kk = k[:, keys]
        vv = v[:, keys]
        logits = (q[:, i:i + 1] * kk).sum(-1) * hd**-0.5  # (B, K, heads)
        if attn.rel_pos:
            Wh, Ww = attn.window_size
            Rh = attn.rel_pos_h[[hi - pos[j][0] + Wh - 1 for j in keys]]
            Rw = attn.rel_pos_w[[wi - pos[j][1] + Ww - 1 for j in keys]]
            logits = logits + (q[:, i:i + 1] * (Rh + Rw)[None, :, None]
                               ).sum(-1)
        if attn.pool:
            pk = torch.stack([k[:, m].mean(1) for m in pooled], 1)
            pv = torch.stack([v[:, m].mean(1) for m in pooled], 1)
            logits = torch.cat(
                [logits, (q[:, i:i + 1] * pk).sum(-1) * hd**-0.5], 1)
            vv = torch.cat([vv, pv], 1)
        p = logits.softmax(dim=1)  # over keys
        out[:, i] = (p[..., None] * vv).sum(1)
    return attn.proj(out.reshape(B, N, C))


@pytest.mark.parametrize('grid,window,shift,pool', [
    ((7, 5), (4, 3), False, False),  # padded along both axes
    ((7, 5), (4, 3), True, False),
    ((7, 5), (4, 3), False, True),
    ((7, 5), (4, 3), True, True),
    ((8, 6), (4, 3), True, True),    # divisible, non-square windows
    ((5, 9), (4, 4), True, True),    # wide grid, padded
])
def test_matches_token_by_token_reference(grid, window, shift, pool):
    attn = make(window, shift=shift, pool=pool)
    x = torch.randn(1, grid[0] * grid[1], DIM)
    with torch.no_grad():
        torch.testing.assert_close(attn(x, grid), reference(attn, x, grid),
                                   rtol=0, atol=2e-5)


@pytest.mark.parametrize('window', [(4, 3), (16, 16)])
@pytest.mark.parametrize('shift', [False, True])
def test_window_covering_the_map_is_full_attention(window, shift):
    """One window (exact or larger than the 4x3 grid, then clipped) is
    full attention, with or without the shift (an axis covered by one
    window is not shifted) and with the zero-initialised position tables.
    """
    attn = make(window, shift=shift, random_tables=False)
    full = Attention(DIM, HEADS, qkv_bias=True).eval()
    full.load_state_dict(attn.state_dict(), strict=False)
    x = torch.randn(2, 12, DIM)
    with torch.no_grad():
        torch.testing.assert_close(attn(x, (4, 3)), full(x), rtol=0,
                                   atol=1e-5)


def test_shift_changes_the_partition_when_windows_tile_the_map():
    x = torch.randn(1, 48, DIM)
    plain, shifted = make(4), make(4, shift=True)
    with torch.no_grad():
        assert not torch.allclose(plain(x, (8, 6)), shifted(x, (8, 6)),
                                  atol=1e-3)


@pytest.mark.parametrize('pool', [False, True])
def test_only_pooling_windows_see_other_windows(pool):
    """Changing a token of the top-left 4x3 window of an 8x6 grid moves
    the outputs of the other three windows only through the pooled keys.
    """
    attn = make((4, 3), pool=pool)
    x = torch.randn(1, 48, DIM)
    y = x.clone()
    y[0, 0] += 5.0  # token (0, 0)
    with torch.no_grad():
        out_x, out_y = attn(x, (8, 6)), attn(y, (8, 6))
    others = torch.ones(8, 6, dtype=torch.bool)
    others[:4, :3] = False
    moved = (out_x - out_y).abs().amax(-1).reshape(8, 6)[others]
    if pool:
        assert (moved > 1e-4).all()
    else:
        assert moved.max() == 0


@pytest.mark.parametrize('attn_type', [
    'window', 'shift_window', 'pool_window', 'shift_pool_window'])
def test_gradients_are_finite_with_padding(attn_type):
    torch.manual_seed(0)
    attn = build_attention(attn_type, DIM, HEADS, qkv_bias=True,
                           window_size=(4, 4)).train()
    x = torch.randn(2, 7 * 5, DIM, requires_grad=True)
    out = attn(x, (7, 5))
    assert out.shape == x.shape
    out.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert attn.rel_pos_h.grad.abs().sum() > 0


def test_batch_equals_samples_one_by_one():
    attn = make((4, 3), shift=True, pool=True)
    x = torch.randn(3, 35, DIM)
    with torch.no_grad():
        batch = attn(x, (7, 5))
        single = torch.cat([attn(x[i:i + 1], (7, 5)) for i in range(3)])
    torch.testing.assert_close(batch, single, rtol=0, atol=1e-5)


def test_bad_input_is_an_error():
    attn = make(4)
    with pytest.raises(ValueError, match=r'grid=\(4, 4\)'):
        attn(torch.randn(1, 12, DIM), (4, 4))
    with pytest.raises(ValueError, match='grid=None'):
        attn(torch.randn(1, 12, DIM))
    with pytest.raises(ValueError, match=r"window_size .* got \(4, 0\)"):
        WindowAttention(DIM, HEADS, window_size=(4, 0))
    with pytest.raises(ValueError, match="Unknown attention type 'swin'"):
        build_attention('swin', DIM, HEADS)
