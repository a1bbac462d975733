"""Resizing of ViT absolute position embeddings to another token grid."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from torch import Tensor


def resize_pos_embed(pos_embed: Tensor,
                     src_shape: Tuple[int, int],
                     dst_shape: Tuple[int, int],
                     num_extra_tokens: int = 1,
                     mode: str = 'bicubic') -> Tensor:
    """Resample a (1, E + Hs*Ws, C) position embedding to (1, E + Hd*Wd, C).

    The E leading extra rows (the cls row, which ViTPose adds to every patch
    token) are kept as they are; the grid rows, row-major over (H, W), are
    interpolated in float32 (timm's ``resample_abs_pos_embed`` does the same)
    and cast back. Grids need not be square: an MAE 14x14 grid becomes
    ViTPose's 16x12 at 256x192.

    Args:
        pos_embed (Tensor): (1, E + Hs*Ws, C).
        src_shape (tuple): (Hs, Ws) of the stored grid.
        dst_shape (tuple): (Hd, Wd) of the wanted grid.
        num_extra_tokens (int): E, rows that are not part of the grid.
        mode (str): ``F.interpolate`` mode.

    Returns:
        Tensor: (1, E + Hd*Wd, C), the input itself if the shapes agree.

    Raises:
        ValueError: If the row count does not match ``src_shape``.
    """
    Hs, Ws = src_shape
    Hd, Wd = dst_shape
    if pos_embed.shape[1] != num_extra_tokens + Hs * Ws:
        raise ValueError(
            f'pos_embed has {pos_embed.shape[1]} rows, expected '
            f'{num_extra_tokens} + {Hs}x{Ws} for the source grid')
    if (Hs, Ws) == (Hd, Wd):
        return pos_embed
    MMLogger.get_current_instance().info(
        f'Resizing position embedding from {Hs}x{Ws} to {Hd}x{Wd} tokens')
    dtype = pos_embed.dtype
    extra, grid = (pos_embed[:, :num_extra_tokens],
                   pos_embed[:, num_extra_tokens:])
    C = grid.shape[-1]
    # (1, Hs*Ws, C) -> (1, C, Hs, Ws)
    grid = grid.float().reshape(1, Hs, Ws, C).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(Hd, Wd), mode=mode, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, Hd * Wd, C).to(dtype)
    return torch.cat([extra, grid], dim=1)
