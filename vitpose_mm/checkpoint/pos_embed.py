"""Resizing of ViT absolute position embeddings to another token grid."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from torch import Tensor


def infer_pos_embed_grid(num_tokens: int,
                         dst_shape: Tuple[int, int]) -> Tuple[int, int]:
    """The (Hs, Ws) grid of a stored position embedding with ``num_tokens``
    grid rows, which is to be resized to ``dst_shape``.

    A state dict does not record its grid, so it is guessed, in this order:

    1. ``dst_shape`` itself when the counts agree (nothing to resize);
    2. the aspect ratio of ``dst_shape``: a ViTPose checkpoint trained at
       another resolution of the same 4:3 crop (16x12 at 256x192 -> 24x18
       at 384x288 or 36x27 at 576x432);
    3. a square grid: MAE / ImageNet pre-training (14x14 at 224x224).

    Pass the grid explicitly (``pos_embed_grid``) for anything else.

    Raises:
        ValueError: If no rule fits ``num_tokens``.
    """
    Hd, Wd = dst_shape
    if num_tokens == Hd * Wd:
        return Hd, Wd
    Hs = int(round((num_tokens * Hd / Wd)**0.5))
    if Hs > 0 and num_tokens % Hs == 0:
        Ws = num_tokens // Hs
        if Hs * Wd == Ws * Hd:
            return Hs, Ws
    side = int(round(num_tokens**0.5))
    if side * side == num_tokens:
        return side, side
    raise ValueError(
        f'Cannot infer the grid of a position embedding with {num_tokens} '
        f'grid tokens: it is neither the {Hd}x{Wd} aspect ratio of the '
        'model nor square; give its (H, W) grid explicitly, e.g. '
        "init_cfg=dict(type='Pretrained', checkpoint=..., "
        'pos_embed_grid=(16, 12))')


def resize_pos_embed(pos_embed: Tensor,
                     src_shape: Tuple[int, int],
                     dst_shape: Tuple[int, int],
                     num_extra_tokens: int = 1,
                     mode: str = 'bicubic',
                     log: bool = True) -> Tensor:
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
        log (bool): Log the resize through mmengine's logger (off for the
            per-batch resize of a whole-image backbone).

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
    if log:
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
