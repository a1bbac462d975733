"""Patch embedding of the ViTPose ViT."""
from typing import Tuple

from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """Image to patch tokens with the original ViTPose geometry.

    A Conv2d with kernel ``patch_size``, stride ``patch_size // ratio`` and
    **padding 4 + 2 * (ratio // 2 - 1)** (2 for ratio 1), as in the original
    ``PatchEmbed`` (``vit.py``). For a 256x192 input and patch 16 the grid is
    still 16x12, sampled with a 2-pixel offset; ``ratio`` 2 gives a 32x24 grid
    of overlapping patches (the paper's finer-token study).

    Args:
        img_size (tuple[int, int]): Input (H, W) in pixels.
        patch_size (int): Patch side in pixels.
        in_channels (int): Image channels.
        embed_dim (int): Token width C.
        ratio (int): Token-density ratio (1 = one token per 16x16 patch).
    """

    def __init__(self,
                 img_size: Tuple[int, int],
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dim: int = 768,
                 ratio: int = 1) -> None:
        super().__init__()
        H, W = img_size
        self.img_size = (H, W)
        # (Hp, Wp): the token grid the position embedding is made for.
        self.patch_shape = (int(H // patch_size * ratio),
                            int(W // patch_size * ratio))
        self.num_patches = self.patch_shape[0] * self.patch_shape[1]
        self.proj = nn.Conv2d(
            in_channels,
            embed_dim,
            kernel_size=patch_size,
            stride=patch_size // ratio,
            padding=4 + 2 * (ratio // 2 - 1))

    def forward(self, x: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
        """(B, 3, H, W) image -> ((B, Hp*Wp, C) tokens row-major, (Hp, Wp))."""
        x = self.proj(x)  # (B, C, Hp, Wp)
        Hp, Wp = x.shape[2], x.shape[3]
        return x.flatten(2).transpose(1, 2), (Hp, Wp)
