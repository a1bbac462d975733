"""int8 inference: dynamic int8 linear layers, everything else float32.

ViTPose spends almost all of its time in the linear layers of its blocks
(qkv, proj, fc1, fc2), and its fp32 CPU paths already run near the fp32
GEMM peak (issue 12), so int8 GEMMs are the lever left. Both paths here
quantise **only the linear layers' weights and inputs**:

- weights: int8, per output channel (torch) / per tensor (onnxruntime),
  symmetric, computed once;
- activations: quantised per call from their own min / max (dynamic
  quantisation: no calibration set, nothing to go stale);
- LayerNorm, the softmax of attention (and its two activation x
  activation products), GELU, the residual stream, the heatmap head
  (deconvolutions, final conv), the heatmaps and the decode stay float32.

torch: ``torch.ao.quantization.quantize_dynamic`` (``nn.Linear`` ->
dynamic quantized linear, fbgemm / oneDNN kernels; VNNI / AMX where the
CPU has them). onnxruntime: ``onnxruntime.quantization.quantize_dynamic``
on the ``MatMul`` / ``Gemm`` nodes whose second input is a weight
(``MatMulConstBOnly``), giving ``DynamicQuantizeLinear`` +
``MatMulInteger`` (u8 activations x s8 weights).

Accuracy is measured by ``benchmarks/int8_accuracy.py`` (trained model,
COCO AP and keypoint shift, fp32 vs int8, both runtimes).
"""
import copy
import json
import warnings
from pathlib import Path
from typing import Union

import torch
from torch import nn


def quantize_linear_int8(model: nn.Module) -> nn.Module:
    """Replace every ``nn.Linear`` of ``model`` (in place) by a dynamic
    int8 one; other modules are untouched.

    Args:
        model (nn.Module): A float32 model on the CPU, eval mode.

    Returns:
        nn.Module: ``model``.

    Raises:
        ValueError: If the model is not on the CPU (PyTorch's quantized
            kernels are CPU-only).
    """
    for p in model.parameters():
        if p.device.type != 'cpu':
            raise ValueError(f'int8 runs on the CPU; the model is on '
                             f'{p.device}')
        break
    from torch.ao.quantization import quantize_dynamic
    with warnings.catch_warnings():
        # torch >= 2.10 flags its quantized tensor types as deprecated in
        # favour of torchao; the kernels are still the supported ones.
        warnings.simplefilter('ignore', UserWarning)
        warnings.simplefilter('ignore', DeprecationWarning)
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8,
                                inplace=True)


def int8_linear(linear: nn.Linear, gelu: bool = False) -> nn.Module:
    """A dynamic int8 copy of ``linear``, followed by exact GELU when
    ``gelu``: the ``make_linear`` factory of
    :class:`~vitpose_mm.deploy.FastMoEMlp` for int8.

    ViTPose+'s :class:`~vitpose_mm.models.layers.MoEMlp` reads ``fc2`` and
    expert weights as tensors to stack them, which a quantized linear does
    not have, so int8 replaces it by a ``FastMoEMlp`` whose fc1 and stacked
    ``[fc2; expert]`` layers are built here.

    Args:
        linear (nn.Linear): (out, in) float32 layer on the CPU (copied).
        gelu (bool): Append ``nn.GELU()`` (float32).

    Returns:
        nn.Module: (..., in) -> (..., out).
    """
    layer = nn.Sequential(copy.deepcopy(linear).eval())
    if gelu:
        layer.append(nn.GELU())
    return quantize_linear_int8(layer)


def quantize_onnx_int8(src: Union[str, Path], dst: Union[str, Path]) -> Path:
    """Write ``src`` (an fp32 ONNX file) to ``dst`` with dynamic int8
    weight-times-activation ``MatMul`` / ``Gemm`` nodes, keeping its
    ``metadata_props``.

    Raises:
        ImportError: Without onnx / onnxruntime.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    src, dst = Path(src), Path(dst)
    meta = {p.key: p.value for p in onnx.load(str(src),
                                              load_external_data=False)
            .metadata_props}
    quantize_dynamic(
        str(src), str(dst), op_types_to_quantize=['MatMul', 'Gemm'],
        weight_type=QuantType.QInt8, per_channel=False,
        extra_options=dict(MatMulConstBOnly=True))
    return _restore_metadata(dst, meta)


def _restore_metadata(dst: Path, meta: dict) -> Path:
    """Give ``dst`` exactly the ``metadata_props`` ``meta`` (onnxruntime's
    quantisers drop or rewrite them)."""
    import onnx
    model = onnx.load(str(dst))
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(dst))
    return dst


class _Crops:
    """onnxruntime's ``CalibrationDataReader`` protocol over (N, 3, H, W)
    crops, ``batch`` at a time."""

    def __init__(self, name: str, crops, batch: int) -> None:
        self.name, self.crops, self.batch, self.at = name, crops, batch, 0

    def get_next(self):
        if self.at >= len(self.crops):
            return None
        chunk = self.crops[self.at:self.at + self.batch]
        self.at += self.batch
        return {self.name: chunk}

    def rewind(self) -> None:
        self.at = 0


def quantize_onnx_static_int8(src: Union[str, Path], dst: Union[str, Path],
                              calibration, batch: int = 8) -> Path:
    """Write ``src`` (an fp32 ONNX file) to ``dst`` with static int8
    ``MatMul`` / ``Gemm`` nodes in QDQ form, calibrated on real crops.

    Unlike :func:`quantize_onnx_int8` the activation scales are fixed by
    calibration (min / max of each quantised tensor over ``calibration``),
    so no ``DynamicQuantizeLinear`` runs per call, and onnxruntime's graph
    optimiser fuses each ``DequantizeLinear -> MatMul -> QuantizeLinear``
    into ``QLinearMatMul`` / ``MatMulIntegerToFloat`` kernels (u8
    activations x s8 weights per output channel: VNNI / AMX). LayerNorm,
    softmax, GELU and the deconvolution head stay float32, as in the
    dynamic path. Crops whose value range the calibration never saw clip:
    calibrate on crops of the data it will run on
    (``benchmarks/int8_accuracy.py`` uses the evaluation set's own crops).

    Args:
        src (str | Path): fp32 ONNX file (``export_onnx``; input ``crops``).
        dst (str | Path): Output file (may equal ``src``).
        calibration (np.ndarray): (N, 3, H, W) float32 preprocessed crops
            at the model's input size, N >= 1.
        batch (int): Crops per calibration call.

    Returns:
        Path: ``dst``.

    Raises:
        ValueError: If ``calibration`` is not (N, 3, H, W) with N >= 1.
        ImportError: Without onnx / onnxruntime.
    """
    import numpy as np
    import onnx
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    calibration = np.ascontiguousarray(calibration, dtype=np.float32)
    if calibration.ndim != 4 or calibration.shape[1] != 3 or \
            not len(calibration):
        raise ValueError('calibration must be (N, 3, H, W) crops with '
                         f'N >= 1, got {calibration.shape}')
    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    name = model.graph.input[0].name
    quantize_static(
        str(src), str(dst), _Crops(name, calibration, batch),
        quant_format=QuantFormat.QDQ, op_types_to_quantize=['MatMul',
                                                            'Gemm'],
        per_channel=True, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=dict(MatMulConstBOnly=True))
    from .onnx_meta import META_RUNTIME
    if META_RUNTIME in meta:  # the runtime picks files by precision
        spec = json.loads(meta[META_RUNTIME])
        spec['precision'] = 'int8'
        meta[META_RUNTIME] = json.dumps(spec, separators=(',', ':'))
    return _restore_metadata(dst, meta)
