"""Resizing of ViT absolute position embeddings: the tensor operations live
in the state-dict library (:mod:`vitpose_mm.checkpoint.pos_embed`), which
loading and the whole-image backbone both use."""
from vitpose_mm.checkpoint.pos_embed import (infer_pos_embed_grid,
                                             resize_pos_embed)

__all__ = ['infer_pos_embed_grid', 'resize_pos_embed']
