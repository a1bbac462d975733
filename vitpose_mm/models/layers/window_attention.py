"""Window attention for high-resolution token grids (ViTPose, Sec. 3.3).

The ViTPose paper's attention-type study (Sec. 3.3 "attention type", the
ablation of Sec. 4.2 on ViTPose-B with 1/8 feature maps, e.g. 32x24 tokens
at 256x192 with ``ratio=2``) replaces full attention, whose cost grows with
the square of the token count, by attention inside non-overlapping windows
with relative position embeddings, following ViTDet (Li et al., "Exploring
plain vision transformer backbones for object detection"), which the paper
cites for it, plus two ways to let windows talk to each other:

- **shifted windows** (Swin): the window grid is moved by half a window
  (a cyclic roll of the map) and tokens that the roll brought together from
  opposite borders are masked apart;
- **pooling windows**: the keys and values of each window are averaged into
  one summary token per window, and every window attends to the summaries
  of all windows besides its own tokens.

Choices of this port, none of them pinned by released code (the original
repository ships no window attention):

- Relative positions are ViTDet's *decomposed* embeddings: two learnable
  tables ``rel_pos_h`` (2*wh - 1, head_dim) and ``rel_pos_w``
  (2*ww - 1, head_dim); the logit of query i and key j gets
  ``q_i . rel_pos_h[h_i - h_j] + q_i . rel_pos_w[w_i - w_j]`` (q before the
  1/sqrt(d) scale, as ViTDet). The tables start at zero, so a model loaded
  from full-attention weights (MAE, ViTPose) starts with plain window
  attention. Pooled summary keys get no position term.
- A grid that the window does not divide is padded at the bottom / right;
  padded keys are masked out and padded queries are cropped, so border
  windows attend over their real tokens only. Pooling averages real tokens
  only.
- A window larger than the grid is clipped to it, and an axis covered by one
  window is not shifted (Swin's rule); a window covering the whole map is
  therefore exactly full attention, shifted or not (with the zero-initial
  position tables, and without pooling, which adds one summary key).
- The shift is half the (clipped) window, in the rolled-and-padded frame of
  Swin; the mask is built from tensor ops per call, with no Python loop over
  windows, and all windows go through one batched
  ``scaled_dot_product_attention`` call.
- Tokens are partitioned before the qkv projection (one copy of the
  C-wide tokens instead of the 3C-wide qkv), so padded tokens go through
  ``qkv`` too: on a 16x12 grid with 8x8 windows (1/16 features) that is
  more work than full attention saves. Windows pay off at 1/8 features.

Cost (``benchmarks/attention_variants.py``, ViTPose-B at 256x192 with
``ratio=2``, 2 CPU threads): 8x8 windows cut the forward from 153 to 133
GFLOPs per image, and a training step's activations from 823 MiB with the
original's explicit softmax attention to about 550 MiB. Fused
``scaled_dot_product_attention`` does not store the (N, N) matrices
either: full attention through it needs 462 MiB and was the fastest on
CPU, since the windows' relative position bias keeps SDPA on its unfused
path (the bias needs a gradient).
"""
import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import Attention


def _window_pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or any(not isinstance(s, int) or s < 1 for s in pair):
        raise ValueError(f'window_size must be a positive int or (h, w) '
                         f'pair of positive ints, got {size!r}')
    return int(pair[0]), int(pair[1])


def _axis_layout(length: int, window: int,
                 shift: int) -> Tuple[Tensor, Tensor]:
    """Per position of a padded, rolled axis: (is padding, wrapped side).

    Position i of the rolled axis holds the original index
    ``(i + shift) % padded``; it is padding when that index is >= ``length``
    and it lies on the wrapped side of the roll when i >= padded - shift.
    """
    padded = math.ceil(length / window) * window
    rolled = torch.arange(padded)
    original = (rolled + shift) % padded
    return original >= length, rolled >= padded - shift


class WindowAttention(Attention):
    """Multi-head self-attention inside (shifted / pooling) windows.

    Same parameters as :class:`Attention` (``qkv``, ``proj``), so full
    attention weights load into it, plus the relative position tables when
    ``rel_pos`` is True.

    Args:
        dim (int): Token width C.
        num_heads (int): Number of heads; must divide ``dim``.
        qkv_bias (bool): Bias of the fused qkv Linear.
        attn_drop (float): Dropout on the attention weights (training only).
        proj_drop (float): Dropout after the output projection.
        window_size (int | tuple[int, int]): Window (height, width) in
            tokens, e.g. 8 for the paper's 8x8 windows at 1/8 resolution.
        shift (bool): Shift the windows by half a window (Swin).
        pool (bool): Add the pooled summary of every window to the keys and
            values of each window.
        rel_pos (bool): Add ViTDet's decomposed relative position terms.

    Raises:
        ValueError: If ``dim`` is not divisible by ``num_heads`` or
            ``window_size`` is not one or two positive ints.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = False,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 window_size: Union[int, Sequence[int]] = 8,
                 shift: bool = False,
                 pool: bool = False,
                 rel_pos: bool = True) -> None:
        super().__init__(dim, num_heads, qkv_bias, attn_drop, proj_drop)
        self.window_size = _window_pair(window_size)
        self.shift = shift
        self.pool = pool
        self.rel_pos = rel_pos
        if rel_pos:
            wh, ww = self.window_size
            self.rel_pos_h = nn.Parameter(
                torch.zeros(2 * wh - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(
                torch.zeros(2 * ww - 1, self.head_dim))

    def extra_repr(self) -> str:
        return (f'window_size={self.window_size}, shift={self.shift}, '
                f'pool={self.pool}, rel_pos={self.rel_pos}')

    def layout(self, grid: Tuple[int, int]) -> Tuple[int, int, int, int]:
        """(wh, ww, sh, sw): the window clipped to ``grid`` and the shift,
        0 along an axis that one window covers."""
        H, W = grid
        wh, ww = min(self.window_size[0], H), min(self.window_size[1], W)
        sh = wh // 2 if self.shift and wh < H else 0
        sw = ww // 2 if self.shift and ww < W else 0
        return wh, ww, sh, sw

    def _masks(self, grid: Tuple[int, int], wh: int, ww: int, sh: int,
               sw: int, device: torch.device) -> Tuple[Tensor, Tensor]:
        """(nW, T, T) allowed query-key pairs and (nW, T) real tokens.

        A key is allowed when it is a real token on the same side of the
        roll as the query along both axes; each token always sees itself,
        so padded queries (cropped later) have a finite softmax.
        """
        H, W = grid
        pad_h, side_h = _axis_layout(H, wh, sh)
        pad_w, side_w = _axis_layout(W, ww, sw)
        nh, nw = pad_h.numel() // wh, pad_w.numel() // ww
        # (Hpad, Wpad) maps -> (nW, T), windows row-major, tokens row-major.
        pad = (pad_h[:, None] | pad_w[None, :])
        region = side_h[:, None].long() * 2 + side_w[None, :].long()
        pad, region = (t.reshape(nh, wh, nw, ww).transpose(1, 2).reshape(
            nh * nw, wh * ww).to(device) for t in (pad, region))
        allowed = (region[:, :, None] == region[:, None, :]) & ~pad[:, None]
        allowed = allowed | torch.eye(wh * ww, dtype=torch.bool,
                                      device=device)
        return allowed, ~pad

    def _rel_pos_bias(self, q: Tensor, wh: int, ww: int) -> Tensor:
        """(B, nW, heads, T, hd) queries -> (B, nW, heads, T, T) terms."""
        Wh, Ww = self.window_size
        # Offsets h_q - h_k of a window clipped to (wh, ww) index the centre
        # of the (2 * Wh - 1)-row table.
        idx_h = (torch.arange(wh)[:, None] - torch.arange(wh)[None, :]
                 + Wh - 1).to(q.device)
        idx_w = (torch.arange(ww)[:, None] - torch.arange(ww)[None, :]
                 + Ww - 1).to(q.device)
        Rh, Rw = self.rel_pos_h[idx_h], self.rel_pos_w[idx_w]
        lead = q.shape[:-2]
        q = q.reshape(*lead, wh, ww, self.head_dim)
        # (..., wh_q, ww_q, wh_k) and (..., wh_q, ww_q, ww_k)
        rel_h = torch.einsum('...hwc,hkc->...hwk', q, Rh.to(q.dtype))
        rel_w = torch.einsum('...hwc,wkc->...hwk', q, Rw.to(q.dtype))
        bias = rel_h[..., :, None] + rel_w[..., None, :]
        return bias.reshape(*lead, wh * ww, wh * ww)

    def forward(self, x: Tensor,
                grid: Optional[Tuple[int, int]] = None) -> Tensor:
        """(B, Hp*Wp, C) row-major tokens of an (Hp, Wp) grid -> same.

        Raises:
            ValueError: If ``grid`` is missing or does not hold N tokens.
        """
        B, N, C = x.shape
        if grid is None or grid[0] * grid[1] != N:
            raise ValueError(
                f'WindowAttention needs the (Hp, Wp) token grid of its {N} '
                f'tokens; got grid={grid} (extra tokens such as a '
                'knowledge token are not supported by window attention)')
        H, W = grid
        wh, ww, sh, sw = self.layout(grid)
        Hpad, Wpad = math.ceil(H / wh) * wh, math.ceil(W / ww) * ww
        nh, nw = Hpad // wh, Wpad // ww
        nW, T = nh * nw, wh * ww

        # Partition the C-wide tokens, not the 3C-wide qkv: one copy of x,
        # then q, k, v are views of the qkv output, as in full attention.
        # Padded tokens are zeros (their keys are masked out).
        x = x.reshape(B, H, W, C)
        if (Hpad, Wpad) != (H, W):
            x = F.pad(x, (0, 0, 0, Wpad - W, 0, Hpad - H))
        if sh or sw:
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
        # (B, nh, wh, nw, ww, C) -> (B, nW, T, C)
        x = x.reshape(B, nh, wh, nw, ww, C).transpose(2, 3).reshape(
            B, nW, T, C)
        # (B, nW, T, 3, heads, hd) -> (3, B, nW, heads, T, hd)
        qkv = self.qkv(x).reshape(B, nW, T, 3, self.num_heads,
                                  self.head_dim).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)

        needs_mask = (Hpad, Wpad) != (H, W) or sh or sw
        allowed = real = None
        if needs_mask or self.pool:
            allowed, real = self._masks(grid, wh, ww, sh, sw, x.device)
        if self.pool:
            # Mean over the real tokens of each window: (B, 1, heads, nW, hd)
            weight = (real / real.sum(-1, keepdim=True)).to(k.dtype)
            pooled_k = torch.einsum('bnhtd,nt->bhnd', k, weight)[:, None]
            pooled_v = torch.einsum('bnhtd,nt->bhnd', v, weight)[:, None]
            expand = (B, nW, self.num_heads, nW, self.head_dim)
            k = torch.cat([k, pooled_k.expand(expand)], dim=-2)
            v = torch.cat([v, pooled_v.expand(expand)], dim=-2)
            allowed = torch.cat(
                [allowed, allowed.new_ones(nW, T, nW)], dim=-1)

        mask = None
        if self.rel_pos:
            mask = self._rel_pos_bias(q, wh, ww)  # (B, nW, heads, T, K)
            if self.pool:
                mask = F.pad(mask, (0, nW))
            if needs_mask or self.pool:
                # (nW, 1, T, K) broadcasts over batch and heads.
                mask = mask.masked_fill(~allowed[:, None], float('-inf'))
            mask = mask.flatten(0, 1)
        elif needs_mask:
            mask = allowed[:, None].repeat(B, 1, 1, 1)  # (B * nW, 1, T, K)
        # 4-D (B * nW, heads, T, hd) inputs: with 5-D ones CPU SDPA falls
        # back to its math path, which stores the attention probabilities.
        # A relative position bias takes that path anyway (it needs a
        # gradient); T = 64 keeps its (B * nW, heads, T, K) tensors small.
        out = F.scaled_dot_product_attention(
            q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1),
            attn_mask=mask,
            dropout_p=self.attn_drop if self.training else 0.)

        # (B * nW, heads, T, hd) -> (B, nh, wh, nw, ww, C)
        # -> (B, Hpad, Wpad, C)
        out = out.reshape(B, nh, nw, self.num_heads, wh, ww, self.head_dim)
        out = out.permute(0, 1, 4, 2, 5, 3, 6).reshape(B, Hpad, Wpad, C)
        if sh or sw:
            out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
        out = out[:, :H, :W].reshape(B, N, C)
        return self.proj_drop(self.proj(out))


#: Attention types a ViTPose block can use, as (shift, pool) of
#: :class:`WindowAttention`; ``'full'`` is plain :class:`Attention`.
ATTENTION_TYPES = {
    'full': None,
    'window': (False, False),
    'shift_window': (True, False),
    'pool_window': (False, True),
    'shift_pool_window': (True, True),
}


def build_attention(attn_type: str,
                    dim: int,
                    num_heads: int,
                    qkv_bias: bool = False,
                    attn_drop: float = 0.,
                    proj_drop: float = 0.,
                    window_size: Union[int, Sequence[int]] = 8,
                    rel_pos: bool = True) -> Attention:
    """One attention module of type ``attn_type`` (see
    :data:`ATTENTION_TYPES`).

    Raises:
        ValueError: On an unknown ``attn_type``.
    """
    if attn_type not in ATTENTION_TYPES:
        raise ValueError(f'Unknown attention type {attn_type!r}; choose '
                         f'from {sorted(ATTENTION_TYPES)}')
    if ATTENTION_TYPES[attn_type] is None:
        return Attention(dim, num_heads, qkv_bias, attn_drop, proj_drop)
    shift, pool = ATTENTION_TYPES[attn_type]
    return WindowAttention(dim, num_heads, qkv_bias, attn_drop, proj_drop,
                           window_size=window_size, shift=shift, pool=pool,
                           rel_pos=rel_pos)
