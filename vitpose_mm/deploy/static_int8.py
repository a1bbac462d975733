"""Static int8 through PT2E: calibrated activation scales, int8 GEMMs fused
by ``torch.compile`` (CPU only).

The dynamic int8 path (:mod:`.int8`) quantises every linear layer's input
per call and runs everything between the GEMMs in fp32; on CPUs with AMX it
reached 9% of the int8 GEMM peak (``benchmarks/inference_speed.py``). Here
the model goes through torch's PT2E flow, as the PyTorch x86 quantisation
tutorial lays it out:

1. ``torch.export`` of the tensor-mode forward (crops -> heatmaps), the
   batch dimension dynamic;
2. ``prepare_pt2e`` with torchao's ``X86InductorQuantizer`` (default
   config: int8 weights per output channel, symmetric; uint8 activations per
   tensor, affine) on the linear layers inserts observers;
3. the calibration crops (real crops: their activation ranges are what
   the scales are fitted to) run through the observed model;
4. ``convert_pt2e`` gives quantise / dequantise pairs, which inductor
   (``torch.compile`` with ``freezing``) folds into oneDNN's static
   ``qlinear`` / ``qconv`` kernels (VNNI / AMX), so activations stay int8
   between fused ops.

LayerNorm, softmax and the heatmaps stay float. A simple decoder is folded
first (on a copy: :mod:`.simple_decoder`), as on every fast path.

Attention (q k^T, softmax, x v) is the largest part left in float: at
ViTPose-B batch 8 on a 2-core AMX CPU, SDPA in float32 took a quarter of
an unfolded static int8 forward pass (63 of 252 ms:
``benchmarks/inference_speed.py --sizes B --batches 8 --impls
int8-static-before --profile int8-static-before``). Where the CPU
has native bf16 (AVX512-BF16 / AMX-BF16, :func:`vitpose_runtime.precision.
native_precisions`) ``attention='auto'`` runs the product in bf16
(:attr:`~vitpose_mm.models.layers.Attention.sdpa_dtype`; softmax still
accumulates in float32 inside SDPA); README's accuracy table gives the
keypoint shift of both.
Compiling ViTPose-B takes ~45 s on a 2-core CPU, so this is a deployment
step for long runs, not what ``--precision int8`` does on each start.
"""
import copy
from typing import Callable

import torch
from torch import Tensor, nn


class _TensorMode(nn.Module):
    """(B, 3, H, W) crops -> (B, K, h, w) heatmaps of an estimator."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x, None, mode='tensor')
        return out[0] if isinstance(out, (tuple, list)) else out


def quantize_static_int8(model: nn.Module, calibration: Tensor,
                         compile: bool = True,
                         attention: str = 'auto',
                         fold_decoder: bool = True
                         ) -> Callable[[Tensor], Tensor]:
    """A static int8 crops -> heatmaps function of ``model``.

    Args:
        model (nn.Module): An eager fp32 top-down estimator (its
            ``model(x, None, mode='tensor')`` heatmaps are quantised) or a
            backbone (``model(x)``: its feature tuple), on the CPU, weights
            loaded. Not changed.
        calibration (Tensor): (B, 3, H, W) preprocessed crops.
        compile (bool): ``torch.compile`` the result (inductor, freezing):
            without it the quantise / dequantise pairs run as separate ops
            (slow; for checking accuracy only).
        attention (str): The dtype of the attention product: ``'fp32'``,
            ``'bf16'``, or ``'auto'`` (bf16 where the CPU runs it natively,
            else fp32).
        fold_decoder (bool): Fold a simple decoder first (see
            :func:`~vitpose_mm.deploy.optimize_for_inference`).

    Returns:
        Callable: (B, 3, H, W) float32 -> (B, K, h, w) float32 heatmaps
        (a backbone: its outputs).

    Raises:
        ValueError: If the model is not on the CPU, ``calibration`` is
            not a (B, 3, H, W) tensor or ``attention`` is not one of the
            three.
        ImportError: Without torchao (requirements/export.txt).
    """
    if calibration.ndim != 4 or calibration.shape[1] != 3:
        raise ValueError('calibration must be (B, 3, H, W) crops, got '
                         f'{tuple(calibration.shape)}')
    for p in model.parameters():
        if p.device.type != 'cpu':
            raise ValueError(f'static int8 runs on the CPU, not {p.device}')
        break
    sdpa_dtype = _attention_dtype(attention)
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import (convert_pt2e,
                                                         prepare_pt2e)
    from vitpose_mm.models.layers import Attention

    from .simple_decoder import fold_simple_decoder
    model = copy.deepcopy(model)
    if fold_decoder:
        fold_simple_decoder(model)
    for module in model.modules():
        if isinstance(module, Attention):
            module.sdpa_dtype = sdpa_dtype
    net = (_TensorMode(model) if hasattr(model, 'extract_feat')
           else model).eval()
    qconfig = xiq.get_default_x86_inductor_quantization_config()
    quantizer = xiq.X86InductorQuantizer().set_module_type_qconfig(
        nn.Linear, qconfig)
    # The patch embedding stays float: quantising it too was 6% faster at
    # ViTPose-B batch 8 (2-core AMX CPU) but raised the p99 keypoint shift
    # on the main job's model from 0.09 to 0.27 px and cost 0.015 AP
    # (benchmarks/int8_accuracy.py --static, with that quantiser setting;
    # tried once, not kept as an option).
    with torch.no_grad():
        batch = torch.export.Dim('batch', min=1, max=1024)
        exported = torch.export.export(
            net, (calibration, ), dynamic_shapes=({0: batch}, )).module()
        observed = prepare_pt2e(exported, quantizer)
        observed(calibration)
        quantized = convert_pt2e(observed)
    return frozen(torch.compile(quantized) if compile else quantized)


def _attention_dtype(attention: str):
    """None (float32) or torch.bfloat16 for ``attention``."""
    if attention not in ('auto', 'fp32', 'bf16'):
        raise ValueError(f"attention={attention!r}: choose 'auto', 'fp32' "
                         "or 'bf16'")
    if attention == 'auto':
        from vitpose_runtime.precision import cpu_flags, native_precisions
        attention = ('bf16' if 'bf16' in native_precisions(cpu_flags())
                     else 'fp32')
    return torch.bfloat16 if attention == 'bf16' else None


def frozen(fn: Callable) -> Callable:
    """``fn`` run without autograd and with inductor's ``freezing`` on
    (weights folded as constants: what lowers the quantised linear layers
    to oneDNN's prepacked ``qlinear``), so it also applies when a new shape
    recompiles. (``torch.compile(options={'freezing': True})`` did not
    reach the lowering in torch 2.14: the prepack op then fails to
    compile.)"""
    import torch._inductor.config as inductor_config

    def run(x: Tensor) -> Tensor:
        with torch.no_grad(), inductor_config.patch(freezing=True):
            return fn(x)
    return run
