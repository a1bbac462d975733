"""Building blocks of the ViTPose ViT, one per file."""
from .attention import Attention
from .block import TransformerBlock
from .mlp import Mlp
from .moe_mlp import MoEMlp
from .patch_embed import PatchEmbed
from .pos_embed import resize_pos_embed

__all__ = ['Attention', 'Mlp', 'MoEMlp', 'PatchEmbed', 'TransformerBlock',
           'resize_pos_embed']
