"""The ViTPose simple decoder with its final convolution moved below the
upsampling: the same heatmaps from about 1/16 of the head's work.

The simple decoder (paper Sec. 3.1; the original ``TopdownHeatmapSimpleHead``
with ``upsample=4`` and no deconvolutions; here mmpose's
``FeatureMapProcessor(apply_relu=True, scale_factor=4)`` neck and a
``HeatmapHead`` with only its 3x3 ``final_layer``) computes

    heatmaps = conv_k(up(relu(x))) + b

on (B, C, h, w) backbone features: ``up`` bilinear x s, ``conv_k`` a k x k
convolution (C -> K keypoints, zero padding k // 2). Bilinear resizing acts
on each channel alone with the same weights, so it commutes with any mixing
of channels: for each of the k^2 taps t of the kernel, with W_t its
(K, C) slice,

    conv_k(up(r))[:, y, x] = sum_t (W_t up(r))[:, y + dy_t, x + dx_t]
                           = sum_t up(W_t r)[:, y + dy_t, x + dx_t],

a zero outside the map in both. :class:`FoldedSimpleDecoder` therefore
runs one 1x1 convolution C -> k^2 K at the backbone's resolution, upsamples
those k^2 K channels instead of C, and sums the k^2 shifted maps
(channels-last; zero borders by ``F.pad``, or by concatenation inside an
ONNX export). For ViTPose-B on COCO (C = 768, K = 17, k = 3, s = 4,
batch 8) the head does 0.43 instead of 5.8 GFLOP
(ViTPose-B is 279 GFLOP in all) and upsamples 153 instead of 768 channels
(a 75 MB float32 map less). That is worth far more than its 2% of the
FLOPs: on the 2-core AMX CPU of ``benchmarks/inference_speed.py`` the
17-channel 3x3 convolution and the upsampling were 18% of a bf16 forward
pass (the head alone, fp32: 58-60 ms unfolded, 13-15 ms folded,
``benchmarks/simple_decoder_speed.py``). The result equals
the decoder to float32 rounding (``tests/deploy/test_simple_decoder.py``).
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _foldable_neck(neck: nn.Module) -> bool:
    from mmpose.models.necks import FeatureMapProcessor
    return (isinstance(neck, FeatureMapProcessor) and neck.apply_relu
            and neck.select_index is None and not neck.concat
            and neck.scale_factor != 1.0)


def _foldable_conv(conv: nn.Module) -> bool:
    if type(conv) is not nn.Conv2d:
        return False
    k = conv.kernel_size[0]
    return (conv.kernel_size == (k, k) and k % 2 == 1
            and conv.padding == (k // 2, k // 2) and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1
            and conv.padding_mode == 'zeros')


class FoldedSimpleDecoder(nn.Module):
    """ReLU, bilinear x s and a k x k convolution, computed as a 1x1
    convolution to k^2 K channels at the input resolution, upsampling and
    a sum of k^2 shifted maps (see the module doc).

    Takes the neck's input, ``(x, )`` with x (B, C, h, w) features (any
    dtype: computed in float32), and returns ``((B, K, s h, s w), )``
    float32 heatmaps, as ``head.final_layer(neck(x))`` would; it stands in
    for the neck and the final layer becomes ``nn.Identity``.

    Args:
        neck (FeatureMapProcessor): The simple decoder's ReLU + upsample
            neck; its own resize is reused, so ``scale_factor`` and
            ``align_corners`` keep their meaning.
        conv (nn.Conv2d): The head's final layer (odd square kernel, zero
            padding k // 2, stride 1).

    Raises:
        ValueError: If ``neck`` or ``conv`` is not of that kind (the fold
            would give other heatmaps).
    """

    def __init__(self, neck: nn.Module, conv: nn.Conv2d) -> None:
        super().__init__()
        if not _foldable_neck(neck):
            raise ValueError(f'cannot fold {neck!r}: need a ReLU + upsample '
                             'FeatureMapProcessor on one map')
        if not _foldable_conv(conv):
            raise ValueError(f'cannot fold {conv!r}: need an odd square '
                             'kernel, zero padding k // 2, stride 1')
        self.neck = neck
        k = conv.kernel_size[0]
        out_channels, taps = conv.out_channels, k * k
        weight = conv.weight.detach().float()  # (K, C, k, k)
        # (T*K, C, 1, 1), tap major: rows t*K .. t*K+K-1 are tap
        # t = dy * k + dx of the K keypoints.
        self.register_buffer('tap_weight', weight.permute(2, 3, 0, 1).reshape(
            taps * out_channels, -1, 1, 1).contiguous())
        self.register_buffer(
            'bias', conv.bias.detach().float() if conv.bias is not None
            else torch.zeros(out_channels))
        self.kernel_size = k
        self.out_channels = out_channels

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        # Channels-last (NHWC) throughout: oneDNN's 1x1 convolution and
        # the bilinear upsampling are fastest in it, and shifting an NHWC
        # map along H or W moves whole rows of channels.
        x = F.relu(x.float()).contiguous(memory_format=torch.channels_last)
        z = F.conv2d(x, self.tap_weight)  # (B, T*K, h, w)
        z = self.neck._rescale([z])[0]  # (B, T*K, H, W)
        k, K = self.kernel_size, self.out_channels
        B, _, H, W = z.shape
        z = z.permute(0, 2, 3, 1).reshape(B, H, W, k * k, K)
        p = k // 2
        if p and torch.onnx.is_in_onnx_export():
            # Zero borders by concatenation in ONNX graphs: the exporter's
            # Pad does not convert to opset 17.
            rows = z.new_zeros(B, p, W, k * k, K)
            z = torch.cat([rows, z, rows], 1)
            cols = z.new_zeros(B, H + 2 * p, p, k * k, K)
            z = torch.cat([cols, z, cols], 2)
        elif p:
            z = F.pad(z, (0, 0, 0, 0, p, p, p, p))  # 1.9x faster than cat
        out = self.bias
        for t in range(k * k):
            dy, dx = divmod(t, k)
            out = out + z[:, dy:dy + H, dx:dx + W, t]  # (B, H, W, K)
        return (out.permute(0, 3, 1, 2).contiguous(), )

    def extra_repr(self) -> str:
        return (f'kernel_size={self.kernel_size}, '
                f'out_channels={self.out_channels}, '
                f'scale_factor={self.neck.scale_factor}')


def foldable_simple_decoder(neck: Optional[nn.Module],
                            head: Optional[nn.Module]
                            ) -> Optional[nn.Conv2d]:
    """The final layer of ``head`` if ``neck`` + ``head`` are a simple
    decoder that :class:`FoldedSimpleDecoder` computes: a ReLU + upsample
    ``FeatureMapProcessor`` (one map, no selection or concatenation) and an
    mmpose ``HeatmapHead`` whose deconvolution and conv layers are empty
    and whose ``final_layer`` is an odd square, zero-padded, stride-1
    ``nn.Conv2d``; else None (the classic decoder, bottom-up heads, other
    kernels)."""
    from mmpose.models.heads import HeatmapHead
    # mmpose's HeatmapHead only: other heads with a final_layer (RTMCC,
    # SimCC, ...) do more around it.
    if (not isinstance(neck, nn.Module) or not isinstance(head, HeatmapHead)
            or not _foldable_neck(neck)):
        return None
    conv = getattr(head, 'final_layer', None)
    if not _foldable_conv(conv):
        return None
    for part in ('deconv_layers', 'conv_layers'):
        if type(getattr(head, part, None)) is not nn.Identity:
            return None
    return conv


def fold_simple_decoder(model: nn.Module) -> Optional[FoldedSimpleDecoder]:
    """Replace a top-down estimator's simple decoder (neck + final layer,
    see :func:`foldable_simple_decoder`) by a :class:`FoldedSimpleDecoder`,
    in place: it becomes ``model.neck`` and the head's final layer an
    ``nn.Identity``. A ViTPose+ estimator (several heads behind one neck)
    and anything not foldable are left as they are.

    Returns:
        FoldedSimpleDecoder | None: The new neck, or None if nothing was
        folded.
    """
    if isinstance(getattr(model, 'heads', None), nn.ModuleDict):
        return None
    head = getattr(model, 'head', None)
    conv = foldable_simple_decoder(getattr(model, 'neck', None), head)
    if conv is None:
        return None
    folded = FoldedSimpleDecoder(model.neck, conv)
    model.neck = folded
    head.final_layer = nn.Identity()
    return folded
