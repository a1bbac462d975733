"""The ViTPose backbone: a plain, non-hierarchical ViT (ViTPose, Sec. 3.1).

Port of ``ViT`` in the original ``mmpose/models/backbones/vit.py``
(ViTAE-Transformer/ViTPose, commit c050ed2). Deliberate quirks kept from the
original, each pinned by ``../shared/fixtures/original_vitpose``:

- Patch embedding padding is 2 (``4 + 2 * (ratio // 2 - 1)``), so 256x192
  gives a 16x12 grid sampled with a 2-pixel offset.
- There is no cls token, but ``pos_embed`` keeps a cls row (row 0), and that
  row is **added to every patch token** together with the token's own row.
- All LayerNorms use eps 1e-6; GELU is exact (erf).
- The output is ``last_norm`` applied to the tokens, reshaped row-major to
  one (B, C, Hp, Wp) map.

Differences from the original, on purpose:

- ``frozen_stages=n`` freezes the patch embedding, ``pos_embed`` and the
  **first n blocks** (``blocks[0..n-1]``). The original freezes
  ``blocks[1..n]`` and never block 0, which we take for an off-by-one.
- The input must have the ``img_size`` grid, as in the original, but a wrong
  size raises a ValueError instead of failing inside an addition, unless
  ``dynamic_img_size=True`` (below).
- Attention runs through ``scaled_dot_product_attention``.

Additions for the paper's flexibility and transferability studies:

- ``attn_types`` picks full, window, shifted-window or pooling-window
  attention per block (Sec. 3.3, "attention type"; see
  :mod:`vitpose_mm.models.layers.window_attention`).
- ``pos_embed`` is resized when weights of another grid are loaded, through
  ``init_cfg`` or any ``load_state_dict`` (e.g. mmengine's ``load_from``):
  a 256x192 checkpoint fine-tunes at 384x288 or 576x432 (Sec. 3.3,
  "resolution"). The source grid is inferred (see
  :func:`~vitpose_mm.models.layers.infer_pos_embed_grid`) or given.
- ``dynamic_img_size=True`` (bottom-up, whole-image input): any input size
  is accepted and the grid rows of ``pos_embed`` are interpolated to the
  batch's token grid, bicubic with ``align_corners=False`` as the
  original's ``get_abs_pos`` (``vit.py``), then the cls row is added as
  usual. The input of ``img_size`` takes the unchanged top-down path
  (bit-identical). Top-down configs keep the default False: a wrong crop
  size there is a pipeline bug, not a feature. The interpolated table is
  cached per grid only when no gradient can flow into ``pos_embed`` (eval
  under ``no_grad``, or a frozen ``pos_embed``) and is keyed on the
  parameter's version counter and storage, so an optimizer step or a
  ``load_state_dict`` never leaves a stale table behind.
- ``forward_tokens(..., extra_tokens=...)`` appends learned tokens (the
  knowledge token of Sec. 3.4) after the position embedding and drops them
  before the feature map is formed.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.model.weight_init import trunc_normal_
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from torch import Tensor, nn

from ...checkpoint import fit
from ...checkpoint.hf_folder import check_folder_fits
from ...checkpoint.io import load_state_dict_file
from ..load_hook import prepare_loading
from ..layers import (Mlp, PatchEmbed, TransformerBlock, WindowAttention,
                      build_attention, infer_pos_embed_grid,
                      resize_pos_embed)

#: Tensors of a ViTPose backbone that a pretrained backbone checkpoint may
#: lack (fnmatch patterns), the one place this is decided: ``last_norm``
#: (added by ViTPose after MAE's blocks; MAE's own final ``norm`` is not
#: taken for it, as in the original) and the relative positions of window
#: attention (zero-initialised, ViTDet). Anything else missing is an error
#: (:meth:`ViTPoseBackbone.load_pretrained`, through
#: :func:`vitpose_mm.checkpoint.fit_state_dict`).
PRETRAINED_MAY_LACK = ('last_norm.*', '*.rel_pos_h', '*.rel_pos_w')


def may_lack(key: str) -> bool:
    """Whether a pretrained backbone may lack tensor ``key``
    (:data:`PRETRAINED_MAY_LACK`)."""
    return fit.may_lack(key, PRETRAINED_MAY_LACK)


#: Sizes of the paper (Table 1). ViTPose-S is 384/12/12, not mmpretrain's
#: 'small' (768/8/8).
VITPOSE_ARCHS = {
    'small': dict(embed_dim=384, depth=12, num_heads=12, mlp_ratio=4),
    'base': dict(embed_dim=768, depth=12, num_heads=12, mlp_ratio=4),
    'large': dict(embed_dim=1024, depth=24, num_heads=16, mlp_ratio=4),
    'huge': dict(embed_dim=1280, depth=32, num_heads=16, mlp_ratio=4),
}


def _pair(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


@MODELS.register_module()
class ViTPoseBackbone(BaseBackbone):
    """ViTPose ViT returning one (B, C, H/16, W/16) feature map.

    Constructor arguments keep the original names, so an original config
    ports by changing ``type='ViT'`` to ``type='ViTPoseBackbone'``.

    Args:
        arch (str, optional): A preset of :data:`VITPOSE_ARCHS` ('small',
            'base', 'large', 'huge'); fills ``embed_dim``, ``depth``,
            ``num_heads`` and ``mlp_ratio`` that are not given explicitly.
        img_size (int | tuple): Input (H, W) in pixels, e.g. (256, 192).
        patch_size (int): Patch side in pixels.
        in_channels (int): Image channels.
        embed_dim (int): Token width C.
        depth (int): Number of blocks.
        num_heads (int): Attention heads.
        mlp_ratio (float): FFN hidden width / C.
        qkv_bias (bool): Bias in the fused qkv Linear.
        drop_rate (float): Dropout after the position embedding, in the
            attention projection and the FFN.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth, increased linearly over
            depth from 0 to this value (original schedule).
        ratio (int): Token-density ratio; 2 gives 4x more tokens.
        last_norm (bool): Apply a final LayerNorm to the tokens.
        frozen_stages (int): -1 freezes nothing; n >= 0 freezes the patch
            embedding, ``pos_embed`` and the first n blocks.
        freeze_attn (bool): Freeze ``norm1`` + ``attn`` of every block.
        freeze_ffn (bool): Freeze ``norm2`` + ``mlp`` of every block and, as
            in the original, the patch embedding and ``pos_embed``.
        use_checkpoint (bool): Activation checkpointing per block in
            training (saves memory, costs one extra forward).
        attn_types (str | list[str]): Attention of every block, or one per
            block: ``'full'`` (the original), ``'window'``,
            ``'shift_window'``, ``'pool_window'`` or
            ``'shift_pool_window'`` (ViTPose Sec. 3.3; alternate
            ``'window'`` / ``'shift_window'`` for Swin-style shifting).
        window_size (int | tuple[int, int]): Window (h, w) in tokens for
            the window types, e.g. 8 at 1/8 resolution (``ratio=2``).
        window_rel_pos (bool): Decomposed relative position embeddings
            inside windows (ViTDet), zero-initialised.
        dynamic_img_size (bool): Accept inputs of any size, interpolating
            ``pos_embed`` to each batch's grid (bottom-up whole-image
            input); False refuses a size other than ``img_size``.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=...)``
            loads any supported layout (MAE, original ViTPose, mmpose 1.x,
            transformers) and resizes ``pos_embed`` to this grid; an
            optional ``pos_embed_grid=(H, W)`` names the checkpoint's grid
            when it cannot be inferred.

    Raises:
        ValueError: On an unknown ``arch`` or attention type, an argument
            that contradicts the arch, or ``attn_types`` of the wrong
            length.
    """

    def __init__(self,
                 arch: Optional[str] = None,
                 img_size: Union[int, Sequence[int]] = (256, 192),
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dim: Optional[int] = None,
                 depth: Optional[int] = None,
                 num_heads: Optional[int] = None,
                 mlp_ratio: Optional[float] = None,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 ratio: int = 1,
                 last_norm: bool = True,
                 frozen_stages: int = -1,
                 freeze_attn: bool = False,
                 freeze_ffn: bool = False,
                 use_checkpoint: bool = False,
                 attn_types: Union[str, Sequence[str]] = 'full',
                 window_size: Union[int, Sequence[int]] = 8,
                 window_rel_pos: bool = True,
                 dynamic_img_size: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        prepare_loading(self)
        sizes = dict(embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                     mlp_ratio=mlp_ratio)
        if arch is not None:
            if arch not in VITPOSE_ARCHS:
                raise ValueError(f'Unknown ViTPose arch {arch!r}; choose from '
                                 f'{sorted(VITPOSE_ARCHS)}')
            for key, value in VITPOSE_ARCHS[arch].items():
                if sizes[key] is None:
                    sizes[key] = value
        else:
            sizes = {**dict(embed_dim=768, depth=12, num_heads=12,
                            mlp_ratio=4), **{k: v for k, v in sizes.items()
                                             if v is not None}}
        self.arch = arch
        self.img_size = _pair(img_size)
        self.embed_dim = sizes['embed_dim']
        self.depth = sizes['depth']
        self.num_heads = sizes['num_heads']
        self.mlp_ratio = sizes['mlp_ratio']
        self.ratio = ratio
        self.frozen_stages = frozen_stages
        self.freeze_attn = freeze_attn
        self.freeze_ffn = freeze_ffn
        self.use_checkpoint = use_checkpoint
        if frozen_stages > self.depth:
            raise ValueError(f'frozen_stages={frozen_stages} exceeds '
                             f'depth={self.depth}')
        if isinstance(attn_types, str):
            attn_types = [attn_types] * self.depth
        if len(attn_types) != self.depth:
            raise ValueError(f'attn_types has {len(attn_types)} entries for '
                             f'depth={self.depth}: {list(attn_types)}')
        self.attn_types = list(attn_types)
        self.window_size = window_size
        self.window_rel_pos = window_rel_pos
        self.dynamic_img_size = dynamic_img_size
        # {(Hp, Wp): (key, (1, Hp*Wp, C) table)}; see grid_pos_embed.
        self._pos_embed_cache = {}

        self.patch_embed = PatchEmbed(self.img_size, patch_size, in_channels,
                                      self.embed_dim, ratio)
        # Row 0 is the (unused) cls row, added to every patch token.
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.patch_embed.num_patches + 1, self.embed_dim))
        self.pos_drop = nn.Dropout(drop_rate)
        # Linear 0 -> drop_path_rate over depth, in Python so that the model
        # can be built on the meta device.
        dpr = [drop_path_rate * i / max(self.depth - 1, 1)
               for i in range(self.depth)]
        self.blocks = nn.ModuleList(
            self._make_block(i, dpr[i], qkv_bias, drop_rate, attn_drop_rate)
            for i in range(self.depth))
        self.last_norm = (nn.LayerNorm(self.embed_dim, eps=1e-6)
                          if last_norm else nn.Identity())
        self._freeze_stages()

    def _make_block(self, index: int, drop_path: float, qkv_bias: bool,
                    drop: float, attn_drop: float) -> TransformerBlock:
        """Build block ``index`` from its attention and its FFN."""
        attn = build_attention(
            self.attn_types[index], self.embed_dim, self.num_heads, qkv_bias,
            attn_drop=attn_drop, proj_drop=drop,
            window_size=self.window_size, rel_pos=self.window_rel_pos)
        return TransformerBlock(
            self.embed_dim, self.num_heads, self.mlp_ratio, qkv_bias,
            drop=drop, attn_drop=attn_drop, drop_path=drop_path,
            mlp=self._make_mlp(index, drop), attn=attn)

    def _make_mlp(self, index: int, drop: float) -> nn.Module:
        """The FFN of block ``index``; ViTPose+ overrides this with MoE."""
        return Mlp(self.embed_dim, int(self.embed_dim * self.mlp_ratio),
                   drop=drop)

    # ----------------------------------------------------------- weights --
    def init_weights(self) -> None:
        """Random init as the original (trunc-normal 0.02 Linear weights and
        ``pos_embed``), or a pretrained checkpoint given by ``init_cfg``."""
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            self.load_pretrained(self.init_cfg['checkpoint'],
                                 self.init_cfg.get('prefix', 'backbone.'),
                                 self.init_cfg.get('pos_embed_grid'))
            return
        trunc_normal_(self.pos_embed, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

    def load_pretrained(
            self,
            checkpoint: str,
            prefix: str = 'backbone.',
            pos_embed_grid: Optional[Sequence[int]] = None) -> None:
        """Load backbone weights from a file in any supported layout.

        The file is read with ``weights_only=True`` and converted to our
        layout by :func:`vitpose_mm.checkpoint.convert_state_dict`; keys under
        ``prefix`` are kept (a bare MAE backbone has none and is taken
        whole). ``pos_embed`` is resized to this model's grid from
        ``pos_embed_grid`` (the checkpoint's (H, W) tokens), or from the
        grid :meth:`fit_pos_embed` infers.

        Raises:
            ValueError: If a tensor's shape does not fit this backbone (e.g.
                ViTPose-B weights into a ViTPose-L config), or a
                ``save_pretrained`` folder's ``config.json`` disagrees with
                it (:func:`vitpose_mm.checkpoint.hf_folder.check_config_fits`).
        """
        check_folder_fits(checkpoint, self)
        fitted = fit.fit_state_dict(
            self, load_state_dict_file(checkpoint), check='subset',
            prefix=prefix, may_lack=PRETRAINED_MAY_LACK,
            pos_embed_grid=pos_embed_grid, source=checkpoint,
            what=f'{type(self).__name__} (embed_dim={self.embed_dim}, '
            f'depth={self.depth})')
        self.load_state_dict(fitted.state, strict=False)
        from mmengine.logging import MMLogger
        MMLogger.get_current_instance().info(
            f'Loaded backbone weights from {checkpoint} ({fitted.layout} '
            f'layout); left at their initial values: '
            f'{fitted.left_out or "none"}; ignored: {fitted.ignored or "none"}')

    def fit_pos_embed(self,
                      pos_embed: Tensor,
                      src_grid: Optional[Sequence[int]] = None) -> Tensor:
        """Resize a stored (1, 1 + N, C) ``pos_embed`` to this grid.

        Args:
            pos_embed (Tensor): (1, 1 + N, C), cls row first.
            src_grid (tuple, optional): Its (H, W) grid with H * W = N;
                inferred by :func:`infer_pos_embed_grid` when None (the
                model's aspect ratio first, e.g. 16x12 -> 24x18 at 384x288,
                then square, e.g. MAE's 14x14).

        Returns:
            Tensor: (1, 1 + Hp * Wp, C), bicubic in float32.

        Raises:
            ValueError: If the grid can not be inferred or ``src_grid`` does
                not hold N tokens.
        """
        dst = self.patch_embed.patch_shape
        if src_grid is None:
            src_grid = infer_pos_embed_grid(pos_embed.shape[1] - 1, dst)
        return resize_pos_embed(pos_embed, tuple(src_grid), dst)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Resize a ``pos_embed`` of another grid before loading it, so that
        ``load_state_dict`` (mmengine's ``load_from`` included) fine-tunes
        a 256x192 checkpoint at another resolution."""
        key = prefix + 'pos_embed'
        if isinstance(state_dict.get(key), Tensor):
            fit.resize_stored_pos_embed(state_dict, {key: self.pos_embed},
                                        key, self.patch_embed.patch_shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ----------------------------------------------------------- freezing --
    def _freeze(self, *modules: nn.Module) -> None:
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0 or self.freeze_ffn:
            self._freeze(self.patch_embed)
            self.pos_embed.requires_grad = False
        for blk in self.blocks[:max(self.frozen_stages, 0)]:
            self._freeze(blk)
        for blk in self.blocks:
            if self.freeze_attn:
                self._freeze(blk.norm1, blk.attn)
            if self.freeze_ffn:
                self._freeze(blk.norm2, blk.mlp)

    def train(self, mode: bool = True) -> 'ViTPoseBackbone':
        """Set train mode, keeping frozen parts in eval mode."""
        super().train(mode)
        if mode:
            self._freeze_stages()
        return self

    # ------------------------------------------------------------ forward --
    @property
    def has_window_attention(self) -> bool:
        """Whether any block attends inside windows."""
        return any(isinstance(blk.attn, WindowAttention)
                   for blk in self.blocks)

    def forward_tokens(self,
                       x: Tensor,
                       dataset_index: Optional[Tensor] = None,
                       extra_tokens: Optional[Tensor] = None
                       ) -> Tuple[Tensor, Tuple[int, int]]:
        """(B, 3, H, W) image -> ((B, Hp*Wp, C) normalised tokens, (Hp, Wp)).

        Args:
            x (Tensor): (B, 3, H, W) images of the ``img_size`` (any size
                with ``dynamic_img_size``).
            dataset_index (Tensor, optional): (B,) expert index (ViTPose+).
            extra_tokens (Tensor, optional): (1 or B, K, C) tokens appended
                after the patch tokens once the position embedding is added
                (they get none), attended by every block, and dropped after
                the last block: the output has the patch tokens only. The
                knowledge token of ViTPose Sec. 3.4.

        Raises:
            ValueError: If the input size does not give the ``img_size``
                grid (without ``dynamic_img_size``), or ``extra_tokens``
                has the wrong shape or meets window attention (extra
                tokens lie outside the grid).
        """
        B, _, H, W = x.shape
        x, (Hp, Wp) = self.patch_embed(x)
        if (Hp, Wp) == self.patch_embed.patch_shape or self.dynamic_img_size:
            x = x + self.grid_pos_embed((Hp, Wp))
        else:
            raise ValueError(
                f'Input of {H}x{W} pixels gives a {Hp}x{Wp} token grid, but '
                f'this backbone was built for img_size={self.img_size} '
                f'({self.patch_embed.patch_shape[0]}x'
                f'{self.patch_embed.patch_shape[1]} tokens); set '
                'dynamic_img_size=True for whole-image (bottom-up) input')
        x = self.pos_drop(x)
        num_patches = Hp * Wp
        if extra_tokens is not None:
            x = torch.cat([x, self._check_extra_tokens(extra_tokens, B)],
                          dim=1)
        for blk in self.blocks:
            if self.use_checkpoint and self.training:
                x = cp.checkpoint(blk, x, dataset_index, (Hp, Wp),
                                  use_reentrant=False)
            else:
                x = blk(x, dataset_index, (Hp, Wp))
        return self.last_norm(x[:, :num_patches]), (Hp, Wp)

    def grid_pos_embed(self, grid: Tuple[int, int]) -> Tensor:
        """The (1, Hp*Wp, C) position embedding added to a (Hp, Wp) grid.

        The grid rows of ``pos_embed`` are interpolated to ``grid``
        (bicubic, float32, as the original's ``get_abs_pos``) and the cls
        row is added to every row. Cached per grid while no gradient can
        reach ``pos_embed``; the cache key holds the parameter's version
        counter, storage, dtype and device, so updated weights recompute.
        """
        pos = self.pos_embed
        if grid == self.patch_embed.patch_shape:
            # Every patch token gets its own row plus the cls row 0
            # (original).
            return pos[:, 1:] + pos[:, :1]
        cacheable = not (torch.is_grad_enabled() and pos.requires_grad)
        key = (pos._version, pos.data_ptr(), pos.dtype, pos.device)
        hit = self._pos_embed_cache.get(grid) if cacheable else None
        if hit is not None and hit[0] == key:
            return hit[1]
        table = resize_pos_embed(pos, self.patch_embed.patch_shape, grid,
                                 log=False)
        table = table[:, 1:] + table[:, :1]
        if cacheable:
            if len(self._pos_embed_cache) >= 16:
                self._pos_embed_cache.clear()
            self._pos_embed_cache[grid] = (key, table)
        return table

    def _check_extra_tokens(self, tokens: Tensor, batch_size: int) -> Tensor:
        """(1 or B, K, C) -> (B, K, C), or a ValueError naming the shape."""
        if (tokens.dim() != 3 or tokens.shape[2] != self.embed_dim
                or tokens.shape[0] not in (1, batch_size)):
            raise ValueError(
                f'extra_tokens must be (1 or {batch_size}, K, '
                f'{self.embed_dim}), got {tuple(tokens.shape)}')
        if self.has_window_attention:
            raise ValueError(
                'extra_tokens can not be used with window attention '
                f'(attn_types={self.attn_types}): they lie outside the '
                'token grid that windows partition')
        return tokens.expand(batch_size, -1, -1)

    def forward(self,
                x: Tensor,
                extra_tokens: Optional[Tensor] = None) -> Tuple[Tensor]:
        """(B, 3, H, W) image -> a tuple of one (B, C, H/16, W/16) map
        (H/8, W/8 with ``ratio=2``); see :meth:`forward_tokens` for
        ``extra_tokens``."""
        return (self.tokens_to_map(
            *self.forward_tokens(x, extra_tokens=extra_tokens)), )

    @staticmethod
    def tokens_to_map(tokens: Tensor, grid: Tuple[int, int]) -> Tensor:
        """(B, Hp*Wp, C) row-major tokens -> (B, C, Hp, Wp), a view in
        channels-last memory layout (no copy).

        The original copies the map into NCHW order (``.contiguous()``).
        The values are the same; channels-last input lets the simple
        decoder's upsampling and 3x3 conv run without converting a (B, C,
        4Hp, 4Wp) map (a copy that a CPU profile of ViTPose-B showed as a
        visible share of the step), and is what mmpretrain's ViT hands
        mmpose's heads.
        """
        B, _, C = tokens.shape
        return tokens.reshape(B, *grid, C).permute(0, 3, 1, 2)
