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
``requirements/export.txt``); models over 1.5 GiB of weights (ViTPose-H in
fp32; the threshold of ``torch.onnx``'s own ``save``) get their weights in
an external-data file next to the ``.onnx``, named
``NAME.onnx.<random>.data`` (the ``.onnx`` file names it).

Writing never leaves a half-written or mismatched pair behind (issue 20):
the graph is written to a temporary file in the target folder
(:func:`vitpose_mm.engine.atomic_files.atomic_output`), verified and
quantised there, flushed to disk and renamed over the output; an
external-data file gets a name no other file has, is written and flushed
before that rename, and the previous output's data file is removed only
after it. A failure at any step (full disk, read-only folder, a failed
check) leaves the previous output and its data as they were and no
temporary or data file of this export.
"""
import copy
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .heatmap_net import HeatmapNet
from .onnx_meta import (FORMAT_VERSION, META_CONFIG, META_DATASET,
                        META_FORMAT, META_RUNTIME, runtime_spec_json)

#: ONNX opsets the export is tested with (>= 17: LayerNormalization).
MIN_OPSET = 17
#: Weights above this many bytes go to an external-data file, as
#: ``torch.onnx.ONNXProgram.save`` decides (protobuf's limit is 2 GiB).
EXTERNAL_DATA_BYTES = 1536 * 1024 * 1024


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
                int8: bool = False,
                external_data: Optional[bool] = None) -> Path:
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
        external_data (bool, optional): Weights in a separate
            ``NAME.onnx.<random>.data`` file; None: when they exceed
            :data:`EXTERNAL_DATA_BYTES`. (An int8 file holds its weights
            inline.)

    Returns:
        Path: ``path``.

    Raises:
        ValueError: On an opset < 17, a bad ``batch``, a missing config,
            or a bad ``dataset`` (see :class:`HeatmapNet`).
        RuntimeError: If ``verify`` finds a difference above ``atol``.
        vitpose_mm.engine.atomic_files.WriteError: One line when the file
            cannot be written (``path`` a folder, a read-only file or
            folder, a full disk); ``path`` and its data file are unchanged
            and nothing of this export is left (module docstring).
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
    from vitpose_mm.engine.atomic_files import check_writable
    path = Path(path)
    check_writable(path)
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
        if verify:
            with torch.no_grad():
                expected = net(example).numpy()
        old_data = _data_files(path)
        with _onnx_output(path) as (tmp, data_name):
            if external_data is None:
                external_data = _initializer_bytes(
                    program.model) > EXTERNAL_DATA_BYTES
            _save(program.model, tmp, data_name if external_data else None)
            if verify:
                verify_onnx(tmp, example.numpy(), expected, atol,
                            name=path)
            if int8:
                from .int8 import quantize_onnx_int8
                quantize_onnx_int8(tmp, tmp)
        for name in set(old_data) - set(_data_files(path)):
            _remove(path.parent / name)
    finally:
        model.train(was_training)
    return path


def _initializer_bytes(model) -> int:
    """Bytes of the weights of an ``onnx_ir`` model."""
    return sum(value.const_value.nbytes
               for value in model.graph.initializers.values()
               if value.const_value is not None)


def _save(model, file: str, data_name: Optional[str]) -> None:
    """Write an ``onnx_ir`` model as protobuf to ``file``; with
    ``data_name``, its weights to that file beside it (flushed)."""
    from onnxscript import ir
    ir.save(model, file, format='protobuf', external_data=data_name)
    if data_name is not None:
        with open(Path(file).parent / data_name, 'rb') as f:
            os.fsync(f.fileno())


def _data_files(path: Path, name: Optional[str] = None) -> List[str]:
    """The external-data files of the ONNX file ``path`` that this module
    may have written (``NAME.onnx[.<random>].data`` beside it, ``NAME.onnx``
    being ``name`` or ``path``'s name); empty when ``path`` is missing or
    no ONNX file."""
    import onnx
    pattern = re.compile(re.escape(name or path.name) +
                         r'(\.[\w-]+)?\.data')
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # missing, not ONNX: nothing of ours to remove
        return []
    names = {entry.value for tensor in proto.graph.initializer
             for entry in tensor.external_data if entry.key == 'location'}
    return sorted(n for n in names if pattern.fullmatch(n))


def _remove(file: Path) -> None:
    try:
        file.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def _onnx_output(path: Path):
    """:func:`~vitpose_mm.engine.atomic_files.atomic_output` for an ONNX
    file and its possible external-data file: yields ``(temporary file,
    data file name)``; the data file (if the block wrote one and the
    final file still names it) stays, else it is removed, also when the
    block or the rename fails."""
    from vitpose_mm.engine.atomic_files import atomic_output
    data_name = None
    try:
        with atomic_output(path) as tmp:
            token = Path(tmp).name[len(path.name) + 2:-len('.tmp')]
            data_name = f'{path.name}.{token}.data'
            yield tmp, data_name
            if data_name not in _data_files(Path(tmp), path.name):
                _remove(path.parent / data_name)
    except BaseException:
        # the name is this export's own: never the previous output's
        if data_name is not None:
            _remove(path.parent / data_name)
        raise


def verify_onnx(path: Union[str, Path], inputs: np.ndarray,
                expected: np.ndarray, atol: float = 1e-4,
                name: Optional[Union[str, Path]] = None) -> float:
    """Run an exported file with onnxruntime and compare the heatmaps.

    ``name`` is the file the messages name (default ``path``; the final
    name while ``path`` is a temporary file).

    Returns:
        float: The largest absolute difference.

    Raises:
        RuntimeError: If it exceeds ``atol`` or the shapes differ.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    got = session.run(None, {'input': inputs})[0]
    name = path if name is None else name
    if got.shape != expected.shape:
        raise RuntimeError(f'{name}: onnxruntime gives heatmaps of shape '
                           f'{got.shape}, PyTorch {expected.shape}')
    diff = float(np.abs(got - expected).max())
    if diff > atol:
        raise RuntimeError(f'{name}: onnxruntime heatmaps differ from '
                           f'PyTorch by {diff:.3g} > {atol:g}')
    return diff
