"""Multi-head self-attention of the ViTPose ViT.

Port of ``Attention`` in the original ``mmpose/models/backbones/vit.py``
(ViTAE-Transformer/ViTPose): one fused ``qkv`` Linear whose 3C outputs split
as (3, heads, head_dim), q block first, then k, then v, heads contiguous in
each block; softmax over keys; an output projection ``proj``. The product is
computed by :func:`torch.nn.functional.scaled_dot_product_attention`, which
scales q k^T by 1/sqrt(head_dim) as the original does (the original scales q
before the product; the two agree to float32 rounding).

``sdpa_dtype`` (None: the input's dtype) lets a deployment path run the
product alone in another dtype (static int8 on CPUs with native bf16:
:func:`vitpose_mm.deploy.static_int8.quantize_static_int8`).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head self-attention over a token sequence.

    Args:
        dim (int): Token width C.
        num_heads (int): Number of heads; must divide ``dim``.
        qkv_bias (bool): Whether the fused qkv Linear has a bias.
        attn_drop (float): Dropout on the attention weights (training only).
        proj_drop (float): Dropout after the output projection.

    Attributes:
        sdpa_dtype (torch.dtype | None): If set, q, k and v are cast to it
            for the product and the result back to the input's dtype
            (None: no cast; what training and the fp32 model use).
            :class:`WindowAttention` does not read it.

    Raises:
        ValueError: If ``dim`` is not divisible by ``num_heads``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 8,
                 qkv_bias: bool = False,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f'embed_dim={dim} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sdpa_dtype: Optional[torch.dtype] = None

    def forward(self, x: Tensor,
                grid: Optional[Tuple[int, int]] = None) -> Tensor:
        """(B, N, C) tokens -> (B, N, C) tokens. ``grid`` is unused here;
        it is accepted so that a block can call full or window attention
        alike."""
        B, N, C = x.shape
        # (B, N, 3, heads, head_dim) -> (3, B, heads, N, head_dim)
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                  self.head_dim).permute(2, 0, 3, 1, 4)
        dtype = qkv.dtype
        if self.sdpa_dtype is not None:
            qkv = qkv.to(self.sdpa_dtype)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = x.to(dtype)
        # (B, heads, N, head_dim) -> (B, N, C)
        x = x.transpose(1, 2).reshape(B, N, C)
        return self.proj_drop(self.proj(x))

    def forward_manual(self, x: Tensor) -> Tensor:
        """The original's explicit softmax(q k^T / sqrt(d)) v, in eval mode
        (no dropout).

        Kept to test that the SDPA path agrees with it, and as the
        memory baseline of ``benchmarks/attention_variants.py`` (it stores
        the (B, heads, N, N) matrices that fused SDPA does not).
        """
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads,
                                  self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.head_dim**-0.5) @ k.transpose(-2, -1)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)
