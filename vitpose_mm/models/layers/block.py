"""A pre-norm ViT block: x + attn(norm1(x)), then x + ffn(norm2(x))."""
from typing import Optional, Tuple

from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn

from .attention import Attention
from .mlp import Mlp


class TransformerBlock(nn.Module):
    """One ViTPose transformer block (``Block`` of the original ``vit.py``).

    LayerNorms use eps 1e-6 as in the original (eps 1e-5 changes a 2-block
    backbone's output by about 8e-5).

    Args:
        dim (int): Token width C.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width / C.
        qkv_bias (bool): Bias of the fused qkv Linear.
        drop (float): Dropout after the attention projection and in the FFN.
        attn_drop (float): Dropout on attention weights.
        drop_path (float): Stochastic depth probability of both branches.
        mlp (nn.Module, optional): The FFN; a dense :class:`Mlp` when None.
            A ViTPose+ block passes a MoE FFN here.
        attn (nn.Module, optional): The attention; full :class:`Attention`
            when None. A backbone with window attention passes a
            :class:`~vitpose_mm.models.layers.WindowAttention` here.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = False,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 mlp: Optional[nn.Module] = None,
                 attn: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = attn if attn is not None else Attention(
            dim, num_heads, qkv_bias, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = (DropPath(drop_path)
                          if drop_path > 0 else nn.Identity())
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = mlp if mlp is not None else Mlp(
            dim, int(dim * mlp_ratio), drop=drop)

    def forward(self,
                x: Tensor,
                dataset_index: Optional[Tensor] = None,
                grid: Optional[Tuple[int, int]] = None) -> Tensor:
        """(B, N, C) -> (B, N, C); ``dataset_index`` (B,) goes to the FFN,
        the (Hp, Wp) token ``grid`` to the attention (window attention
        needs it; full attention ignores it)."""
        x = x + self.drop_path(self.attn(self.norm1(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x), dataset_index))
