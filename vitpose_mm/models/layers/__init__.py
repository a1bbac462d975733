"""Building blocks of the ViTPose ViT, one per file."""
from .attention import Attention
from .block import TransformerBlock
from .mlp import Mlp
from .moe_mlp import MoEMlp
from .patch_embed import PatchEmbed
from .pos_embed import infer_pos_embed_grid, resize_pos_embed
from .window_attention import ATTENTION_TYPES, WindowAttention, build_attention

__all__ = ['ATTENTION_TYPES', 'Attention', 'Mlp', 'MoEMlp', 'PatchEmbed',
           'TransformerBlock', 'WindowAttention', 'build_attention',
           'infer_pos_embed_grid', 'resize_pos_embed']
