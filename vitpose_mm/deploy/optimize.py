"""``optimize_for_inference``: the fastest correct path for a ViTPose model.

What changes (the model's interface does not):

- Every ``nn.Linear`` becomes a :class:`~vitpose_mm.deploy.FastLinear`
  (oneDNN, weights prepacked once, on CPUs where that is faster: see
  :mod:`.kernels`); the FFN's fc1 absorbs its exact GELU. A ViTPose+ MoE FFN becomes a
  :class:`~vitpose_mm.deploy.FastMoEMlp` (one stacked GEMM per expert).
- Attention stays ``scaled_dot_product_attention``.
- A heatmap head's BatchNorms are folded into the deconvolutions, ReLUs
  fused into them, and the head runs channels-last (NHWC). The simple
  decoder's final convolution moves below its upsampling
  (:class:`~vitpose_mm.deploy.simple_decoder.FoldedSimpleDecoder`: the
  same heatmaps from 1/16 of the work); the folded decoder replaces the
  neck and the final layer becomes ``nn.Identity``.
- On GPUs (and for dtypes this CPU's oneDNN lacks) the same rewrite runs
  with eager kernels on weights stored in the compute dtype: no autocast,
  no per-call weight casts.
- ``'bf16'`` / ``'fp16'`` run the linear layers, attention and the head's
  deconvolutions in that dtype. LayerNorms, the residual stream (a half
  output added to the float32 stream stays float32), the simple decoder,
  the head's final conv and the heatmaps stay float32; SDPA accumulates its
  softmax in float32. This keeps fp16 from overflowing in LayerNorm.

The result is an inference-only model: parameters are frozen, prepacked
weights are opaque tensors that ``state_dict()`` and ``.to()`` do not see,
and it cannot be deep-copied. Load the checkpoint first, then optimize.
"""
import copy
from functools import partial
from typing import Callable, Iterator, Optional, Tuple

import torch
from torch import nn

from vitpose_mm.models.layers import MoEMlp, Mlp

from .conv import (channels_last_inputs, contiguous_output, convert_conv,
                   convert_convs, fold_batch_norms)
from .int8 import int8_linear, quantize_linear_int8
from .kernels import precision_dtype, resolve_backend
from .linear import FastLinear
from .moe import FastMoEMlp
from .simple_decoder import fold_simple_decoder


def _device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device('cpu')


def _children(model: nn.Module) -> Iterator[Tuple[nn.Module, str,
                                                  nn.Module]]:
    """(parent, name, child) for every module, parents before children,
    listed before any replacement."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            yield parent, name, child


def _replace(model: nn.Module, kind: type,
             build: Callable[[nn.Module], Optional[nn.Module]]) -> None:
    """Replace every submodule of type ``kind`` by ``build(module)`` (if
    not None), outermost first; replaced subtrees are not visited again."""
    replaced = set()
    for parent, name, child in _children(model):
        if id(parent) in replaced or type(child) is not kind:
            continue
        new = build(child)
        if new is not None:
            setattr(parent, name, new)
            replaced.add(id(child))


def _heads(model: nn.Module) -> list:
    """The heatmap heads of an estimator: ``head``, or every ``heads``
    entry of a ViTPose+ estimator."""
    heads = []
    if isinstance(getattr(model, 'head', None), nn.Module):
        heads.append(model.head)
    if isinstance(getattr(model, 'heads', None), nn.ModuleDict):
        heads.extend(model.heads.values())
    return [h for h in heads if hasattr(h, 'final_layer')]


def _optimize_head(head: nn.Module, dtype: torch.dtype, kernel: str) -> None:
    """BN folding, ReLU fusion, NHWC for an mmpose ``HeatmapHead``."""
    for part in ('deconv_layers', 'conv_layers'):
        seq = getattr(head, part, None)
        if isinstance(seq, nn.Sequential):
            fold_batch_norms(seq)
            convert_convs(seq, dtype, kernel)
    # The convs make their inputs channels-last themselves (the head's
    # predict() calls forward() directly, past any hook on the head).
    head.final_layer = convert_conv(head.final_layer, torch.float32, kernel)
    contiguous_output(head.final_layer, torch.float32)


def _optimize_decoder(model: nn.Module, dtype: torch.dtype, kernel: str,
                      fold: bool = True) -> None:
    """The simple decoder folded (float32; if ``fold``), or the heads
    rewritten and the neck fed channels-last."""
    if fold and fold_simple_decoder(model) is not None:
        return
    for head in _heads(model):
        _optimize_head(head, dtype, kernel)
    if isinstance(getattr(model, 'neck', None), nn.Module):
        channels_last_inputs(model.neck)


def optimize_for_inference(model: nn.Module,
                           precision: str = 'fp32',
                           backend: str = 'auto',
                           batch_hint: Optional[int] = None,
                           inplace: bool = False,
                           fold_decoder: bool = True) -> nn.Module:
    """Return ``model`` rewritten for fast inference (see the module doc).

    Works on a whole estimator (``TopdownPoseEstimator``,
    ``ViTPosePlusEstimator``: ``test_step`` / ``predict`` / tensor mode
    keep working, heatmaps come out float32) or on a bare backbone.
    fp32 matches the eager model to float rounding (heatmaps within 1e-4);
    bf16 keeps keypoints within about half a pixel.

    Args:
        model (nn.Module): A model with its weights loaded.
        precision (str): ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'int8'``
            (CPU only: dynamic int8 linear layers, the rest float32;
            :mod:`vitpose_mm.deploy.int8`).
        backend (str): ``'auto'`` (oneDNN with prepacked weights on CPUs
            where it is faster for the dtype, eager kernels otherwise, e.g.
            on GPUs or fp32 on AVX2 CPUs),
            ``'onednn'`` or ``'eager'`` (layer fusions and casts only).
        batch_hint (int, optional): Typical rows per linear layer (batch x
            tokens, e.g. 8 x 192); a layout hint for oneDNN.
        inplace (bool): Rewrite ``model`` itself instead of a deep copy.
        fold_decoder (bool): Fold a simple decoder
            (:class:`~vitpose_mm.deploy.simple_decoder.FoldedSimpleDecoder`:
            the neck then outputs heatmaps). False keeps the neck's
            upsampled features, for code that reads them.

    Returns:
        nn.Module: The model in eval mode with frozen parameters and an
        attribute ``deploy_cfg = dict(precision=..., backend=...)``.

    Raises:
        ValueError: On an unknown precision or backend, ``'onednn'``
            where it cannot run (see :func:`resolve_backend`), or a model
            that was optimized already.
    """
    if hasattr(model, 'deploy_cfg'):
        raise ValueError('This model has been optimized already '
                         f'({model.deploy_cfg}); optimize the eager model')
    dtype = precision_dtype(precision)
    if precision == 'int8':
        return _optimize_int8(model, backend, inplace, fold_decoder)
    kernel = resolve_backend(backend, _device(model), dtype)
    if not inplace:
        model = copy.deepcopy(model)
    model.eval().requires_grad_(False)
    make_linear = partial(_fast_linear, dtype=dtype, kernel=kernel,
                          batch_hint=batch_hint)

    _optimize_decoder(model, dtype, kernel, fold_decoder)

    _replace(model, MoEMlp, lambda moe: FastMoEMlp(moe, make_linear))
    _replace(model, Mlp, partial(_fuse_mlp_gelu, make_linear=make_linear))
    _replace(model, nn.Linear, lambda linear: make_linear(linear, False))
    model.deploy_cfg = dict(precision=precision, backend=kernel)
    return model


def _optimize_int8(model: nn.Module, backend: str, inplace: bool,
                   fold_decoder: bool = True) -> nn.Module:
    """``'int8'``: the fp32 head rewrite, then dynamic int8 linear layers
    (:func:`~vitpose_mm.deploy.int8.quantize_linear_int8`); LayerNorm,
    attention's softmax and products, GELU and the head stay float32."""
    device = _device(model)
    if device.type != 'cpu':
        raise ValueError(f"precision 'int8' runs on the CPU, not {device}")
    kernel = resolve_backend(backend, device, torch.float32)
    if not inplace:
        model = copy.deepcopy(model)
    model.eval().requires_grad_(False)
    _optimize_decoder(model, torch.float32, kernel, fold_decoder)
    # ViTPose+: the MoE FFN stacks fc2 and expert weights, which quantized
    # layers do not expose; FastMoEMlp builds int8 stacked layers instead.
    _replace(model, MoEMlp, lambda moe: FastMoEMlp(moe, int8_linear))
    quantize_linear_int8(model)
    model.deploy_cfg = dict(
        precision='int8', backend=torch.backends.quantized.engine)
    return model


def _fast_linear(linear: nn.Linear, gelu: bool, dtype: torch.dtype,
                 kernel: str, batch_hint: Optional[int]) -> FastLinear:
    return FastLinear(linear, dtype, kernel, gelu=gelu,
                      batch_hint=batch_hint)


def _fuse_mlp_gelu(mlp: Mlp, make_linear: Callable) -> None:
    """fc1 + exact GELU of a dense FFN -> one fused layer, in place.

    Returns None: the Mlp itself stays (its forward is act(fc1(x))).
    """
    if isinstance(mlp.act, nn.GELU) and mlp.act.approximate == 'none':
        mlp.fc1 = make_linear(mlp.fc1, True)
        mlp.act = nn.Identity()
    return None
