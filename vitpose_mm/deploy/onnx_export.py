"""Export a ViTPose / ViTPose+ estimator to ONNX: crops -> heatmaps.

The graph is :class:`~vitpose_mm.deploy.HeatmapNet`: input ``input``
(B, 3, H, W) float32 crops normalised as the config's data preprocessor
does (RGB, mean / std), output ``heatmaps`` (B, K, h, w) float32. The
batch axis is dynamic (named ``batch``) unless a fixed batch is asked for.
Decoding (UDP / DARK) and flip test stay in Python
(:class:`~vitpose_mm.deploy.OnnxPoseModel`), as in the PyTorch model.

The file carries what is needed to use it without the checkpoint, as
ONNX metadata (``metadata_props``): the config text, the ViTPose+ dataset
and a ``vitpose_mm.runtime`` JSON with everything a reader without
mmengine / mmpose needs (``projects/vitpose_runtime``); the keys are
listed in :mod:`vitpose_mm.deploy.onnx_meta`.

Export uses ``torch.onnx.export(dynamo=True)`` (needs onnx and onnxscript,
``requirements/export.txt``); models over 2 GB (ViTPose-H) get their
weights in an external-data file next to the ``.onnx``.
"""
import copy
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .heatmap_net import HeatmapNet
from .onnx_meta import (FORMAT_VERSION, META_CONFIG, META_DATASET,
                        META_FORMAT, META_RUNTIME, runtime_spec_json)

#: ONNX opsets the export is tested with (>= 17: LayerNormalization).
MIN_OPSET = 17


def input_hw(net: HeatmapNet) -> tuple:
    """(H, W) in pixels of the net's input, from its head's codec (or the
    backbone's ``img_size``)."""
    decoder = getattr(net.head, 'decoder', None)
    if decoder is not None and hasattr(decoder, 'input_size'):
        w, h = decoder.input_size
        return int(h), int(w)
    return tuple(net.backbone.img_size)


def export_onnx(model: nn.Module,
                path: Union[str, Path],
                dataset: Optional[Union[str, int]] = None,
                opset: int = MIN_OPSET,
                batch: Union[str, int] = 'dynamic',
                cfg: Optional[Config] = None,
                verify: bool = True,
                atol: float = 1e-4,
                int8: bool = False) -> Path:
    """Export ``model`` to an ONNX file with its config as metadata.

    Args:
        model (nn.Module): A ``TopdownPoseEstimator`` or
            ``ViTPosePlusEstimator`` with weights loaded, not passed
            through :func:`optimize_for_inference` (exported on the CPU in
            float32; a model elsewhere is copied there).
        path (str | Path): The ``.onnx`` file to write.
        dataset (str | int, optional): ViTPose+ only: the dataset (name or
            index) whose expert and head to export.
        opset (int): ONNX opset, >= 17.
        batch (str | int): ``'dynamic'`` or a fixed batch size.
        cfg (Config, optional): The model's config; ``model.cfg`` (set by
            ``mmpose.apis.init_model``) when None.
        verify (bool): Run the file with onnxruntime on a random batch and
            compare with PyTorch.
        atol (float): Largest heatmap difference ``verify`` accepts.
        int8 (bool): Quantise the linear layers to dynamic int8 after
            the fp32 graph is written and verified
            (:func:`~vitpose_mm.deploy.int8.quantize_onnx_int8`; the
            runtime JSON then says ``"precision": "int8"``).

    Returns:
        Path: ``path``.

    Raises:
        ValueError: On an opset < 17, a bad ``batch``, a missing config,
            or a bad ``dataset`` (see :class:`HeatmapNet`).
        RuntimeError: If ``verify`` finds a difference above ``atol``.
    """
    if int(opset) < MIN_OPSET:
        raise ValueError(f'opset must be >= {MIN_OPSET}, got {opset}')
    if batch != 'dynamic' and not (isinstance(batch, int) and batch >= 1):
        raise ValueError(f"batch must be 'dynamic' or an int >= 1, got "
                         f'{batch!r}')
    cfg = cfg if cfg is not None else getattr(model, 'cfg', None)
    if not isinstance(cfg, Config):
        raise ValueError('export_onnx needs the model config (cfg=... or '
                         'model.cfg, as set by mmpose.apis.init_model)')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if any(p.device.type != 'cpu' or p.dtype != torch.float32
           for p in model.parameters()):
        model = copy.deepcopy(model).cpu().float()
    was_training = model.training
    try:
        net = HeatmapNet(model, dataset).eval()
        h, w = input_hw(net)
        example = torch.randn(2 if batch == 'dynamic' else batch, 3, h, w)
        dynamic = None
        if batch == 'dynamic':
            dynamic = {'x': {0: torch.export.Dim('batch', min=1)}}
        program = torch.onnx.export(
            net, (example, ), None, input_names=['input'],
            output_names=['heatmaps'], opset_version=int(opset),
            dynamic_shapes=dynamic, dynamo=True, verbose=False)
        program.model.metadata_props.update({
            META_FORMAT: FORMAT_VERSION,
            META_CONFIG: cfg.pretty_text,
            META_DATASET: net.dataset_name or '',
            META_RUNTIME: runtime_spec_json(
                cfg, net.dataset_name, 'int8' if int8 else 'fp32'),
        })
        program.save(str(path))
        if verify:
            with torch.no_grad():
                expected = net(example).numpy()
            verify_onnx(path, example.numpy(), expected, atol)
        if int8:
            from .int8 import quantize_onnx_int8
            quantize_onnx_int8(path, path)
    finally:
        model.train(was_training)
    return path


def verify_onnx(path: Union[str, Path], inputs: np.ndarray,
                expected: np.ndarray, atol: float = 1e-4) -> float:
    """Run an exported file with onnxruntime and compare the heatmaps.

    Returns:
        float: The largest absolute difference.

    Raises:
        RuntimeError: If it exceeds ``atol`` or the shapes differ.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    got = session.run(None, {'input': inputs})[0]
    if got.shape != expected.shape:
        raise RuntimeError(f'{path}: onnxruntime gives heatmaps of shape '
                           f'{got.shape}, PyTorch {expected.shape}')
    diff = float(np.abs(got - expected).max())
    if diff > atol:
        raise RuntimeError(f'{path}: onnxruntime heatmaps differ from '
                           f'PyTorch by {diff:.3g} > {atol:g}')
    return diff
