"""Deployment: a fast inference path, precision modes and ONNX export.

- :func:`optimize_for_inference`: oneDNN prepacked linear layers (where
  faster than the default GEMM: AVX-512 CPUs), fused
  GELU / BN / ReLU, channels-last heads, bf16 / fp16 modes that keep
  LayerNorm and the heatmaps in float32.
- :class:`HeatmapNet`: an estimator as one function, crops -> heatmaps
  (ViTPose+: one dataset's expert folded in).
- :func:`export_onnx` and :class:`OnnxPoseModel`: see
  :mod:`vitpose_mm.deploy.onnx_export` and :mod:`.onnx_model`.

Nothing here is imported by ``import vitpose_mm``; onnx / onnxruntime are
imported only by the functions that need them
(``requirements/export.txt``).
"""
from .auto_precision import auto_precision
from .conv import EagerConv, FastConv, fold_batch_norms
from .heatmap_net import HeatmapNet
from .kernels import (BACKENDS, PRECISIONS, onednn_preferred,
                      onednn_supports, precision_dtype, resolve_backend)
from .linear import FastLinear
from .moe import FastMoEMlp
from .onnx_export import export_onnx, verify_onnx
from .onnx_model import OnnxHeatmaps, OnnxPoseModel
from .optimize import optimize_for_inference

__all__ = [
    'BACKENDS', 'EagerConv', 'auto_precision', 'FastConv', 'FastLinear', 'FastMoEMlp',
    'HeatmapNet', 'OnnxHeatmaps', 'OnnxPoseModel', 'PRECISIONS',
    'export_onnx', 'fold_batch_norms', 'onednn_preferred', 'onednn_supports',
    'optimize_for_inference', 'precision_dtype', 'resolve_backend',
    'verify_onnx'
]
