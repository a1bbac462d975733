"""Tiny model sizes and the seeded backbone builder the model tests share
(the role of mmpose's ``mmpose/testing/_utils.py``): a 64x48 input, 16x16
patches -> a 4x3 token grid of width 32."""
from typing import Optional

import torch

#: A ViTPose backbone small enough for a CPU test.
TINY_VIT = dict(img_size=(64, 48), embed_dim=32, depth=2, num_heads=4,
                mlp_ratio=2)
#: The same with three ViTPose+ experts of 8 rows each.
TINY_MOE = dict(TINY_VIT, num_expert=3, part_features=8)


def tiny_backbone(cls: Optional[type] = None, *, base: dict = TINY_VIT,
                  eval: bool = False, seed: int = 0, **kwargs):
    """``cls(**base, **kwargs)`` (default :class:`ViTPoseBackbone`) built
    after ``torch.manual_seed(seed)`` and ``init_weights()``; in eval mode
    when ``eval``."""
    from vitpose_mm.models import ViTPoseBackbone
    torch.manual_seed(seed)
    model = (cls or ViTPoseBackbone)(**{**base, **kwargs})
    model.init_weights()
    return model.eval() if eval else model


#: The backbone that shrinks a whole config for a seconds-long run (the
#: config keeps its input size, MLP ratio and head).
TINY_CONFIG_BACKBONE = dict(embed_dim=32, depth=2, num_heads=2)
