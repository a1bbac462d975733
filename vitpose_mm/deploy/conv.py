"""Convolutions of the heads for inference: BN folded, ReLU fused, NHWC.

The classic decoder is ``[ConvTranspose2d, BatchNorm2d, ReLU] x 2`` and a
1x1 conv; the simple decoder is ReLU, a bilinear x4 upsample and a 3x3
conv. On the CPU both are much faster in channels-last (NHWC) memory
format: oneDNN convolutions work in NHWC, and the bilinear upsample of a
wide map is much cheaper in NHWC than in NCHW (measure it on the machine
at hand with ``benchmarks/inference_speed.py``).
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_Conv = Union[nn.Conv2d, nn.ConvTranspose2d]


def fold_batch_norms(seq: nn.Sequential) -> int:
    """Fold each ``BatchNorm2d`` into the conv just before it, in place.

    For a ``ConvTranspose2d`` the BN scales the weight's **second** axis
    (output channels; the weight is (in, out, kh, kw)). The BN becomes an
    ``nn.Identity``. Uses the BN's running statistics (eval mode).

    Args:
        seq (nn.Sequential): E.g. a ``HeatmapHead.deconv_layers``.

    Returns:
        int: The number of BNs folded.
    """
    folded = 0
    names = list(seq._modules)
    for prev, name in zip(names, names[1:]):
        conv, bn = seq._modules[prev], seq._modules[name]
        if (isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
                and isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d))):
            seq._modules[prev] = fuse_conv_bn_eval(
                conv.eval(), bn.eval(),
                transpose=isinstance(conv, nn.ConvTranspose2d))
            seq._modules[name] = nn.Identity()
            folded += 1
    return folded


def _packable(conv: _Conv) -> bool:
    return (conv.padding_mode == 'zeros'
            and not isinstance(conv.padding, str)
            and conv.weight.device.type == 'cpu')


class FastConv(nn.Module):
    """Inference-only 2-D (transposed) convolution with prepacked weights.

    Runs ``torch.ops.mkldnn._convolution_pointwise`` (or its transposed
    twin) with the weight reordered once, optionally with ReLU fused. The
    input is cast to ``dtype`` and made channels-last; the output is
    channels-last in ``dtype``. The packed weight is an opaque tensor (see
    :class:`~vitpose_mm.deploy.linear.FastLinear` for what that implies).

    Args:
        conv (nn.Conv2d | nn.ConvTranspose2d): The layer (not modified);
            zero padding given as numbers.
        dtype (torch.dtype): Compute dtype.
        relu (bool): Apply ReLU to the output.

    Raises:
        ValueError: If the conv cannot be packed (other padding modes,
            string padding, not on the CPU).
    """

    def __init__(self,
                 conv: _Conv,
                 dtype: torch.dtype = torch.float32,
                 relu: bool = False) -> None:
        super().__init__()
        if not _packable(conv):
            raise ValueError(f'Cannot prepack {conv}: needs numeric zero '
                             'padding and CPU weights')
        self.transposed = isinstance(conv, nn.ConvTranspose2d)
        self.dtype = dtype
        self.attr = 'relu' if relu else 'none'
        self.args = dict(
            padding=list(conv.padding), stride=list(conv.stride),
            dilation=list(conv.dilation), groups=conv.groups)
        weight = conv.weight.detach().to(dtype).contiguous()
        self.register_buffer(
            'bias', None if conv.bias is None else
            conv.bias.detach().to(dtype), persistent=False)
        a = self.args
        if self.transposed:
            self.output_padding = list(conv.output_padding)
            self.packed_weight = (
                torch.ops.mkldnn._reorder_convolution_transpose_weight(
                    weight, a['padding'], self.output_padding, a['stride'],
                    a['dilation'], a['groups']))
        else:
            self.packed_weight = torch.ops.mkldnn._reorder_convolution_weight(
                weight, a['padding'], a['stride'], a['dilation'], a['groups'])
        self.desc = repr(conv)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H', W'), channels-last."""
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        a = self.args
        if self.transposed:
            return torch.ops.mkldnn._convolution_transpose_pointwise(
                x, self.packed_weight, self.bias, a['padding'],
                self.output_padding, a['stride'], a['dilation'],
                a['groups'], self.attr, [], '')
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.packed_weight, self.bias, a['padding'], a['stride'],
            a['dilation'], a['groups'], self.attr, [], '')

    def extra_repr(self) -> str:
        return f'{self.desc}, dtype={self.dtype}, post={self.attr}'


class EagerConv(nn.Module):
    """The eager counterpart of :class:`FastConv`: the same casts, layout
    and fused-ReLU semantics on a weight copy in ``dtype`` (GPUs, dtypes
    this CPU's oneDNN cannot run, unpackable convs).

    Args:
        conv (nn.Conv2d | nn.ConvTranspose2d): The layer (not modified).
        dtype (torch.dtype): Compute dtype.
        relu (bool): Apply ReLU to the output.
    """

    def __init__(self,
                 conv: _Conv,
                 dtype: torch.dtype = torch.float32,
                 relu: bool = False) -> None:
        super().__init__()
        self.conv = conv.to(dtype=dtype, memory_format=torch.channels_last)
        self.conv.requires_grad_(False)
        self.dtype = dtype
        self.relu = relu

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H', W'), channels-last."""
        x = self.conv(
            x.to(self.dtype).contiguous(memory_format=torch.channels_last))
        return F.relu(x) if self.relu else x


def convert_convs(seq: nn.Sequential, dtype: torch.dtype,
                  kernel: str) -> None:
    """Replace the convs of ``seq`` in place, fusing a ReLU that follows.

    Fold BNs first (:func:`fold_batch_norms`); a conv followed by a BN that
    could not be folded keeps its ReLU separate.

    Args:
        seq (nn.Sequential): E.g. ``HeatmapHead.deconv_layers``.
        dtype (torch.dtype): Compute dtype of the convs.
        kernel (str): ``'onednn'`` (prepacked, CPU) or ``'eager'``.
    """
    names = list(seq._modules)
    for i, name in enumerate(names):
        conv = seq._modules[name]
        if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        after = seq._modules[names[i + 1]] if i + 1 < len(names) else None
        relu = isinstance(after, nn.ReLU)
        if kernel == 'onednn' and _packable(conv):
            seq._modules[name] = FastConv(conv, dtype, relu)
        else:
            seq._modules[name] = EagerConv(conv, dtype, relu)
        if relu:
            seq._modules[names[i + 1]] = nn.Identity()


def convert_conv(conv: nn.Module, dtype: torch.dtype,
                 kernel: str) -> nn.Module:
    """One conv -> its :class:`FastConv` / :class:`EagerConv`; other
    modules (e.g. an ``nn.Identity`` final layer) are returned as is."""
    seq = nn.Sequential(conv)
    convert_convs(seq, dtype, kernel)
    return seq[0]


def channels_last_inputs(module: nn.Module) -> None:
    """Make every 4-D tensor input of ``module`` channels-last before its
    forward, with a forward pre-hook; 4-D tensors inside a list / tuple
    argument are converted too."""

    def convert(value):
        if isinstance(value, Tensor) and value.dim() == 4:
            return value.contiguous(memory_format=torch.channels_last)
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value

    def hook(_module: nn.Module, args: tuple) -> tuple:
        return tuple(convert(arg) for arg in args)

    module.register_forward_pre_hook(hook)


def contiguous_output(module: nn.Module,
                      dtype: Optional[torch.dtype] = None) -> None:
    """Return the (tensor) output of ``module`` in NCHW-contiguous layout
    (and ``dtype`` when given), with a forward hook."""

    def hook(_module: nn.Module, _args: tuple, out: Tensor) -> Tensor:
        if dtype is not None:
            out = out.to(dtype)
        return out.contiguous()

    module.register_forward_hook(hook)

