"""Build the person detector and the pose model; run them on one image.

The detector is any mmdet 3.x model (``mmdet.apis``); the pose model is a
top-down ViTPose model (``mmpose.apis``). Both are built without weights,
then their checkpoint (read by :func:`vitpose_mm.checkpoint.
load_state_dict_file`) is checked against the model's tensor names and
shapes and loaded **strictly**. mmengine's ``load_checkpoint`` (used by
``init_model`` and ``init_detector``) loads with ``strict=False`` and only
logs a mismatch, leaving random weights behind a plausible-looking result.

Config paths may name a config of an installed OpenMMLab package as
``'mmdet::yolox/yolox_nano_8xb8-300e_coco.py'``.
"""
import warnings
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import get_installed_path, is_installed
from torch import nn

from ..checkpoint import check_same_tensors, load_state_dict_file
from ..checkpoint.hf_folder import check_folder_fits
from .inputs import InputError, resizing


def load_config(path: Union[str, Config]) -> Config:
    """Read a config file, resolving ``'<package>::<path>'`` names.

    ``'mmdet::yolox/x.py'`` is ``<mmdet install>/.mim/configs/yolox/x.py``.

    Raises:
        InputError: The package is not installed, the file does not exist
            or cannot be parsed.
    """
    if isinstance(path, Config):
        return path
    path = str(path)
    if '::' in path:
        package, rel = path.split('::', 1)
        if not is_installed(package):
            raise InputError(f'config {path}: package {package} is not '
                             'installed')
        file = Path(get_installed_path(package), '.mim', 'configs', rel)
    else:
        file = Path(path)
    if not file.is_file():
        raise InputError(f'config {path} not found')
    try:
        return Config.fromfile(str(file))
    except Exception as err:  # syntax errors, missing bases, ...
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f'cannot parse config {path}: {msg}') from None


def _read_weights(path: str, allow_pickle: bool) -> dict:
    """The state dict of a checkpoint file, errors as InputError."""
    try:
        return load_state_dict_file(path, allow_pickle=allow_pickle)
    except FileNotFoundError:
        raise InputError(f'checkpoint {path} not found') from None
    except Exception as err:  # not a checkpoint, pickled objects, ...
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f'cannot read checkpoint {path}: {msg}') from None


def init_pose_model(config: Union[str, Config, None], checkpoint: str,
                    device: str = 'cpu',
                    allow_pickle: bool = False,
                    fast: bool = True,
                    precision: str = 'fp32') -> nn.Module:
    """Build a top-down ViTPose model, load its checkpoint strictly and, by
    default, put it on the fast inference path.

    The checkpoint may be in any layout that
    :func:`vitpose_mm.checkpoint.fit_state_dict` reads (ours, the original
    ViTPose, mmpose's, Hugging Face's), or an ``.onnx`` file written by
    ``vitpose_mm.tools.export_onnx`` (run by onnxruntime on the CPU; its
    config is inside the file). Like :func:`mmpose.apis.init_model`, the
    model gets ``cfg`` and ``dataset_meta`` (of the config's training
    dataset), so ``mmpose.apis.inference_topdown`` runs it.

    With ``fast`` (the default) the loaded model goes through
    :func:`vitpose_mm.deploy.optimize_for_inference` in ``precision``:
    oneDNN-prepacked linear layers on CPUs where they are faster
    (AVX-512), fused GELU, BN folded into the head's deconvolutions,
    channels-last head; fp32 heatmaps stay within 1e-4 of
    the eager model's. The result is inference-only (frozen, its
    ``state_dict()`` no longer lists the prepacked weights).

    Args:
        config (str | Config | None): Config file, or
            ``'<package>::<path>'``. May be None for an ``.onnx`` file;
            if given, its input size and keypoint count must be the file's.
        checkpoint (str): Weights file (``.pth``, ``.safetensors``), an
            exported ``.onnx`` file, or released weights by name (a
            ``Name`` / ``Alias`` of ``model-index.yml``, or
            ``vitpose://NAME``) or http(s) URL: downloaded once, checked,
            converted and cached by :func:`vitpose_mm.hub.resolve_checkpoint`
            (a name also gives the config when ``config`` is None).
        device (str): Torch device of the returned model (``.onnx``: cpu).
        allow_pickle (bool): Read checkpoints that hold Python objects
            besides tensors (e.g. mmengine training checkpoints); only for
            trusted files.
        fast (bool): Optimize for inference (see above); False returns the
            plain eager fp32 model (e.g. to train, export or inspect it).
        precision (str): ``'fp32'``, ``'bf16'``, ``'fp16'`` or ``'int8'``
            compute of the fast path (LayerNorm, softmax accumulation and
            heatmaps stay float32; int8: dynamic int8 linear layers, CPU
            only, :mod:`vitpose_mm.deploy.int8`). These need ``fast``. An
            ``.onnx`` file runs in the precision it was exported in.
            ``'auto'``: the fastest precision this machine runs with
            keypoints within 0.5 px of fp32
            (:func:`vitpose_mm.deploy.auto_precision`; fp32 without
            ``fast`` and for ``.onnx`` files their own); the choice and
            its reason are logged and kept in ``model.precision_choice``.

    Raises:
        InputError: Bad config, unreadable checkpoint, an unknown weights
            name or a failed download (:class:`vitpose_mm.hub.
            WeightsError`'s line), a checkpoint that
            does not fit the config (the message names the first tensor
            that differs and both shapes), an unknown precision, half
            precision without ``fast``, or an ``.onnx`` file asked to run
            on another device or precision.
    """
    from vitpose_mm.deploy import PRECISIONS
    from vitpose_mm.deploy.auto_precision import AUTO, auto_precision
    if precision not in PRECISIONS and precision != AUTO:
        raise InputError(f'precision {precision!r}: choose from '
                         f'{list(PRECISIONS) + [AUTO]}')
    choice = None
    if str(checkpoint).lower().endswith('.onnx'):
        model = _init_onnx_pose_model(config, checkpoint, device,
                                      'fp32' if precision == AUTO
                                      else precision)
        if precision == AUTO:
            choice = (model.exported_precision, 'an .onnx file runs in '
                      'the precision it was exported in')
            _log_choice(model, choice)
        return model
    from vitpose_mm.hub import WeightsError, resolve_checkpoint
    try:
        config, checkpoint = resolve_checkpoint(config, checkpoint)
    except WeightsError as err:
        raise InputError(str(err)) from None
    if precision == AUTO:
        choice = (auto_precision(device) if fast else
                  ('fp32', 'the plain eager model (fast=False) is fp32'))
        precision = choice[0]
    if config is None:
        raise InputError(f'pose checkpoint {checkpoint}: a config is needed '
                         '(only .onnx files carry their own)')
    if precision == 'int8' and torch.device(device).type != 'cpu':
        raise InputError(f"precision 'int8' runs on the CPU, not {device}")
    if precision != 'fp32' and not fast:
        raise InputError(f'precision {precision} runs on the fast path; '
                         'the plain eager model is fp32')
    model = _init_eager_pose_model(config, checkpoint, allow_pickle)
    model = model.to(device).eval()
    if fast:
        from vitpose_mm.deploy import optimize_for_inference
        model = optimize_for_inference(model, precision, inplace=True)
    if choice is not None:
        _log_choice(model, choice)
    return model


def _log_choice(model: nn.Module, choice: tuple) -> None:
    """Keep ``(precision, why)`` of ``precision='auto'`` on the model and
    log it."""
    from mmengine.logging import print_log
    model.precision_choice = choice
    print_log(f'precision auto: {choice[0]} ({choice[1]})', logger='current')


def _init_eager_pose_model(config: Union[str, Config], checkpoint: str,
                           allow_pickle: bool) -> nn.Module:
    """The config's model on the CPU with the checkpoint loaded strictly."""
    from mmpose.apis import init_model

    cfg = load_config(config)
    test_set = cfg.get('test_dataloader', {}).get('dataset', {})
    if 'pipeline' not in test_set and test_set.get('datasets'):
        # A multi-dataset (ViTPose+) config: mmpose's inference API reads
        # test_dataloader.dataset.pipeline. The top-down test pipelines of
        # the datasets are the same but for the step that stamps each
        # dataset's index; without it the dataset chosen by name applies.
        first = test_set.datasets[0]
        first.pipeline = [step for step in first.pipeline
                          if step.get('type') != 'ViTPoseSetDatasetIndex']
        cfg.test_dataloader.dataset = first
    with warnings.catch_warnings():
        # mmpose finds COCO's metainfo in its package after warning that
        # the relative path 'configs/_base_/datasets/coco.py' is missing.
        warnings.filterwarnings('ignore', 'The metainfo config file')
        model = init_model(cfg, None, device='cpu')
    state = _read_weights(checkpoint, allow_pickle)
    try:
        check_folder_fits(checkpoint, model)
        # converted and checked once, by the model's load pre-hook
        # (vitpose_mm.models.load_hook: fit_state_dict)
        model.load_state_dict(state, strict=True)
    except ValueError as err:
        raise InputError(f'pose checkpoint {checkpoint} (config {config}): '
                         f'{err}') from None
    return model


def _model_signature(cfg: Config, dataset: Optional[str]) -> tuple:
    """(input size (w, h), keypoint count) of a top-down config's head
    (ViTPose+: that of ``dataset``)."""
    from vitpose_mm.deploy.onnx_model import head_config
    if 'datasets' not in cfg.model:
        dataset = None
    head = head_config(cfg, dataset)
    codec = head.get('decoder') or {}
    return (tuple(codec.get('input_size', ())), head.get('out_channels'))


def _init_onnx_pose_model(config: Union[str, Config, None], path: str,
                          device: str, precision: str) -> nn.Module:
    """An exported ``.onnx`` file as an mmpose top-down estimator."""
    if not Path(path).is_file():
        raise InputError(f'checkpoint {path} not found')
    if torch.device(device).type != 'cpu':
        raise InputError(f'pose checkpoint {path}: ONNX models run on the '
                         f'CPU (onnxruntime), not on {device}')
    try:
        from vitpose_mm.deploy import OnnxPoseModel
        runner = OnnxPoseModel(path)
    except ImportError as err:
        raise InputError(f'pose checkpoint {path}: {err} (install '
                         'requirements/export.txt)') from None
    except Exception as err:  # not ONNX, not exported by us, ...
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f'cannot read ONNX model {path}: {msg}') from None
    # An ONNX file's precision is fixed at export ('fp32': as exported).
    if precision not in ('fp32', runner.precision):
        raise InputError(f'pose checkpoint {path}: the ONNX model was '
                         f'exported in {runner.precision}, not {precision} '
                         '(export_onnx --int8 writes int8)')
    if config is not None:
        cfg = load_config(config)
        try:
            mine = _model_signature(cfg, runner.dataset)
        except ValueError as err:  # a ViTPose+ config without that dataset
            raise InputError(f'pose checkpoint {path} does not fit config '
                             f'{config}: {err}') from None
        theirs = _model_signature(runner.cfg, runner.dataset)
        if mine != theirs:
            raise InputError(
                f'pose checkpoint {path} does not fit config {config}: '
                f'input size {theirs[0]} and {theirs[1]} keypoints in the '
                f'file, {mine[0]} and {mine[1]} in the config')
    model = runner.as_estimator()
    model.exported_dataset = runner.dataset
    model.exported_precision = runner.precision
    return model


def select_dataset(model: nn.Module, name: Optional[str]) -> None:
    """Use dataset ``name``'s expert and head of a ViTPose+ model.

    With ``name`` None, a ViTPose+ model keeps its selected dataset (its
    config's ``test_cfg.dataset``, or its only one); a plain ViTPose model
    needs none. Names are resolved by the model
    (:meth:`~vitpose_mm.models.ViTPosePlusEstimator.dataset_position`).

    Raises:
        InputError: If ``name`` is given for a model without per-dataset
            experts, is not one of its datasets, or a ViTPose+ model has
            no dataset chosen at all.
    """
    exported = getattr(model, 'exported_dataset', None)
    if exported is not None:
        # An ONNX file of a ViTPose+ model holds one dataset's expert.
        if name is not None and name != exported:
            raise InputError(f'--dataset {name}: the ONNX model was '
                             f'exported for dataset {exported!r} only')
        return
    if not hasattr(model, 'set_dataset'):
        if name is not None:
            raise InputError(f'--dataset {name}: the pose model '
                             f'({type(model).__name__}) is not a ViTPose+ '
                             'model with per-dataset experts')
        return
    if name is None:
        name = model.selected_dataset
    if name is None:
        raise InputError('the pose model is a ViTPose+ model: choose its '
                         f'dataset with --dataset (one of '
                         f'{list(model.dataset_names)})')
    try:
        model.set_dataset(name)
    except ValueError as err:
        raise InputError(f'--dataset: {err}') from None


def init_person_detector(config: Union[str, Config], checkpoint: str,
                         device: str = 'cpu',
                         allow_pickle: bool = False) -> nn.Module:
    """Build an mmdet detector and load its checkpoint strictly.

    Its test pipeline is moved to the ``mmdet.`` scope (as mmpose's demos
    do) so that it runs while mmpose is the default scope.

    Args:
        config (str | Config): Config file, or ``'mmdet::<path>'``.
        checkpoint (str): Weights file.
        device (str): Torch device of the returned model.
        allow_pickle (bool): As for :func:`init_pose_model`.

    Raises:
        InputError: Bad config, unreadable checkpoint, or a tensor name or
            shape that differs between checkpoint and model.
    """
    from mmdet.apis import init_detector
    from mmpose.utils import adapt_mmdet_pipeline

    cfg = load_config(config)
    with warnings.catch_warnings(record=True):
        # Silences 'checkpoint is None, use COCO classes': labels are
        # filtered by number (det_cat_id), class names are not used.
        model = init_detector(cfg, None, device='cpu')
    state = _read_weights(checkpoint, allow_pickle)
    try:
        check_same_tensors(model.state_dict(), state)
    except ValueError as err:
        raise InputError(f'detector checkpoint {checkpoint} (config '
                         f'{config}): {err}') from None
    model.load_state_dict(state, strict=True)
    model.cfg = adapt_mmdet_pipeline(model.cfg)
    return model.to(device).eval()


def detect_people(detector: nn.Module, img: np.ndarray, cat_id: int = 0,
                  score_thr: float = 0.3, nms_thr: float = 0.3
                  ) -> np.ndarray:
    """Person boxes of one image.

    Keeps the detections of label ``cat_id`` with score > ``score_thr``,
    then applies NMS at IoU ``nms_thr``.

    Args:
        detector (nn.Module): From :func:`init_person_detector`.
        img (np.ndarray): (H, W, 3) uint8 BGR image.

    Returns:
        np.ndarray: (N, 5) float32 ``x1, y1, x2, y2, score``, image pixels,
        by decreasing score.
    """
    return detect_people_and_rest(detector, img, cat_id, score_thr,
                                  nms_thr, score_thr)[0]


def detect_people_and_rest(detector: nn.Module, img: np.ndarray,
                           cat_id: int = 0, score_thr: float = 0.3,
                           nms_thr: float = 0.3, low_thr: float = 0.1):
    """Person boxes of one image, and the boxes a tracker may still use.

    Returns:
        tuple: ``(people, rest)``: the (N, 5) boxes of
        :func:`detect_people` and the (M, 5) other person boxes scoring >
        ``low_thr`` (below ``score_thr``, or removed by the NMS): the
        low-score boxes of ByteTrack's second association. float32
        ``x1, y1, x2, y2, score``, image pixels, by decreasing score.

    Raises:
        UnresizableImage: The detector's resize cannot scale ``img`` (a
            side scales to 0 pixels, e.g. 4000x2).
    """
    from mmdet.apis import inference_detector
    from mmpose.evaluation.functional import nms

    with resizing(img, 'detector'):
        pred = inference_detector(detector, img).pred_instances.cpu().numpy()
    boxes = np.concatenate([pred.bboxes, pred.scores[:, None]], axis=1)
    boxes = boxes[(pred.labels == cat_id) & (pred.scores > min(
        low_thr, score_thr))].astype(np.float32).reshape(-1, 5)
    high = np.flatnonzero(boxes[:, 4] > score_thr)
    kept = high[nms(boxes[high], nms_thr)] if len(high) else high
    rest = np.setdiff1d(np.arange(len(boxes)), kept)
    rest = rest[np.argsort(-boxes[rest, 4], kind='stable')]
    return boxes[kept].reshape(-1, 5), boxes[rest].reshape(-1, 5)


def estimate_poses(model: nn.Module, img: np.ndarray, boxes: np.ndarray,
                   batch_size: Optional[int] = None):
    """Keypoints of the people in ``boxes``, all crops in one forward.

    :func:`mmpose.apis.inference_topdown` crops every box and runs one
    ``test_step`` for all of them; ``batch_size`` splits the boxes into
    several such calls to bound memory.

    Args:
        model (nn.Module): A top-down pose model (:func:`init_pose_model`).
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        boxes (np.ndarray): (N, 5) ``x1, y1, x2, y2, score`` in pixels,
            N >= 1, with positive width and height.
        batch_size (int, optional): Boxes per forward; all when None.

    Returns:
        PoseDataSample: One merged sample whose ``pred_instances`` hold
        ``keypoints`` (N, K, 2) and ``keypoint_scores`` (N, K) in image
        pixels, ``bboxes`` (N, 4) and ``bbox_scores`` (N,) from ``boxes``.

    Raises:
        ValueError: ``boxes`` is not (N, 5), is empty, or ``batch_size``
            < 1.
    """
    from mmpose.apis import inference_topdown
    from mmpose.structures import merge_data_samples

    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 5:
        # (N, 4) boxes would fail later on the missing score column.
        raise ValueError('estimate_poses needs (N, 5) boxes x1, y1, x2, y2, '
                         f'score, got shape {boxes.shape}')
    if len(boxes) == 0:
        # inference_topdown would take the whole image as one box.
        raise ValueError('estimate_poses needs at least one box')
    step = len(boxes) if batch_size is None else int(batch_size)
    if step < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    samples = []
    for start in range(0, len(boxes), step):
        with resizing(img, 'pose model'):
            samples += inference_topdown(model, img,
                                         boxes[start:start + step, :4])
    merged = merge_data_samples(samples)
    # inference_topdown scores every box 1; keep the detector's scores.
    merged.pred_instances.bbox_scores = boxes[:, 4].astype(np.float32)
    return merged
