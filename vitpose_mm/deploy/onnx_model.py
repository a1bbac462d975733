"""Run an exported ViTPose (see :mod:`.onnx_export`) with onnxruntime.

Two ways in:

- :class:`OnnxPoseModel`, array in, array out: ``heatmaps(crops)`` and
  ``predict(crops)`` on (B, 3, H, W) crops that are already normalised,
  decoding with the config's codec (flip test as the config says).
- :meth:`OnnxPoseModel.as_estimator`: an mmpose ``TopdownPoseEstimator``
  whose backbone + neck + head are the ONNX graph. It has ``cfg`` and
  ``dataset_meta``, so ``mmpose.apis.inference_topdown`` (and
  :func:`vitpose_mm.apis.estimate_poses`) run it on whole images and boxes
  with the config's pipeline, preprocessing, flip test and decoding.
"""
import json
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmpose.registry import KEYPOINT_CODECS, MODELS
from torch import Tensor, nn

from .onnx_meta import (FORMAT_VERSION, META_CONFIG, META_DATASET,
                        META_FORMAT, META_RUNTIME, dataset_meta, head_config)

ArrayLike = Union[np.ndarray, Tensor]

__all__ = ['OnnxHeatmaps', 'OnnxPoseModel', 'dataset_meta', 'head_config']


class OnnxPoseModel:
    """An exported ViTPose / ViTPose+ (one dataset) run by onnxruntime.

    Args:
        path (str | Path): The ``.onnx`` file from :func:`export_onnx`.
        providers (list[str], optional): onnxruntime execution providers;
            ``['CPUExecutionProvider']`` when None.
        num_threads (int, optional): Intra-op threads (onnxruntime's
            default when None).

    Attributes:
        cfg (Config): The model config stored in the file.
        dataset (str | None): ViTPose+: the exported dataset.
        input_hw (tuple[int, int]): Crop (H, W) in pixels.
        batch_size (int | None): The fixed batch of the graph, or None when
            it is dynamic (inputs are then run in one call).
        codec: The built codec (``ViTPoseUDPHeatmap``) of the head.
        test_cfg (dict): ``flip_test``, ``flip_mode``, ``shift_heatmap``.
        dataset_meta (dict): Keypoint names, flip indices, skeleton.
        precision (str): ``'fp32'``, or ``'int8'`` for a file written by
            ``export_onnx(..., int8=True)`` (``--int8``).

    Raises:
        ValueError: If the file was not written by :func:`export_onnx`.
    """

    def __init__(self,
                 path: Union[str, Path],
                 providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.path = Path(path)
        self.session = ort.InferenceSession(
            str(path), options,
            providers=list(providers or ['CPUExecutionProvider']))
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get(META_FORMAT) != FORMAT_VERSION:
            raise ValueError(
                f'{path} was not exported by vitpose_mm.deploy.export_onnx '
                f'(metadata {META_FORMAT}={meta.get(META_FORMAT)!r}, '
                f'expected {FORMAT_VERSION!r})')
        self.cfg = Config.fromstring(meta[META_CONFIG], '.py')
        self.dataset = meta.get(META_DATASET) or None
        shape = self.session.get_inputs()[0].shape
        self.batch_size = shape[0] if isinstance(shape[0], int) else None
        self.input_hw = (int(shape[2]), int(shape[3]))
        self.head_cfg = head_config(self.cfg, self.dataset)
        self.codec = KEYPOINT_CODECS.build(self.head_cfg['decoder'])
        test_cfg = dict(self.cfg.model.get('test_cfg') or {})
        test_cfg.pop('dataset', None)
        self.test_cfg = test_cfg
        self.dataset_meta = dataset_meta(self.cfg, self.dataset)
        # Files exported before the runtime JSON existed are fp32.
        spec = json.loads(meta.get(META_RUNTIME) or '{}')
        self.precision = spec.get('precision', 'fp32')

    # ---------------------------------------------------------- arrays --
    def heatmaps(self, crops: ArrayLike) -> np.ndarray:
        """(B, 3, H, W) normalised crops -> (B, K, h, w) float32 heatmaps.

        A graph with a fixed batch runs the crops in chunks of that size,
        the last one zero-padded.

        Raises:
            ValueError: If ``crops`` is not (B, 3, H, W) with the exported
                (H, W), or B is 0.
        """
        if isinstance(crops, Tensor):
            crops = crops.detach().cpu().numpy()
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        if (crops.ndim != 4 or crops.shape[1] != 3
                or tuple(crops.shape[2:]) != self.input_hw
                or crops.shape[0] == 0):
            raise ValueError(
                f'Expected (B >= 1, 3, {self.input_hw[0]}, '
                f'{self.input_hw[1]}) crops, got {crops.shape}')
        step = self.batch_size or len(crops)
        outs = []
        for start in range(0, len(crops), step):
            chunk = crops[start:start + step]
            pad = step - len(chunk)
            if pad:
                chunk = np.concatenate(
                    [chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)])
            out = self.session.run(None, {'input': chunk})[0]
            outs.append(out[:step - pad])
        return np.concatenate(outs)

    def predict(self,
                crops: ArrayLike,
                flip_test: Optional[bool] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
        """(B, 3, H, W) normalised crops -> keypoints and scores.

        Args:
            crops (np.ndarray | Tensor): As for :meth:`heatmaps`.
            flip_test (bool, optional): Average with the flipped crops'
                heatmaps (flipped back with the dataset's ``flip_indices``);
                the config's ``test_cfg.flip_test`` when None.

        Returns:
            tuple:
            - keypoints (np.ndarray): (B, K, 2) float32 (x, y) in crop
              (input) pixels.
            - scores (np.ndarray): (B, K) float32.
        """
        from mmpose.models.utils.tta import flip_heatmaps
        if flip_test is None:
            flip_test = self.test_cfg.get('flip_test', False)
        heatmaps = torch.from_numpy(self.heatmaps(crops))
        if flip_test:
            if isinstance(crops, Tensor):
                crops = crops.detach().cpu().numpy()
            flipped = torch.from_numpy(self.heatmaps(crops[..., ::-1]))
            flipped = flip_heatmaps(
                flipped,
                flip_indices=self.dataset_meta['flip_indices'],
                flip_mode=self.test_cfg.get('flip_mode', 'heatmap'),
                shift_heatmap=self.test_cfg.get('shift_heatmap', False))
            heatmaps = (heatmaps + flipped) * 0.5
        keypoints, scores = self.codec.batch_decode(heatmaps)
        return (np.concatenate(keypoints).astype(np.float32),
                np.concatenate(scores).astype(np.float32))

    # ------------------------------------------------------- estimator --
    def as_estimator(self) -> nn.Module:
        """An mmpose ``TopdownPoseEstimator`` running this file.

        Its backbone is :class:`OnnxHeatmaps` (the whole graph), its head
        an identity ``HeatmapHead`` that decodes with the config's codec;
        ``data_preprocessor``, ``test_cfg`` (flip test), ``cfg`` and
        ``dataset_meta`` are the config's.
        """
        from mmengine.registry import DefaultScope
        from mmpose.models.pose_estimators import TopdownPoseEstimator
        num_keypoints = int(self.head_cfg['out_channels'])
        # Built in mmpose's scope: a detector built before (mmdet's
        # init_detector) leaves 'mmdet' as the default scope.
        with DefaultScope.overwrite_default_scope('mmpose'):
            model = TopdownPoseEstimator(
                backbone=dict(type='ViTPoseOnnxHeatmaps', runner=self),
                head=dict(
                    type='HeatmapHead', in_channels=num_keypoints,
                    out_channels=num_keypoints, deconv_out_channels=None,
                    final_layer=None, decoder=self.head_cfg['decoder']),
                test_cfg=self.test_cfg,
                data_preprocessor=self.cfg.model.data_preprocessor)
        model.cfg = self.cfg
        model.dataset_meta = self.dataset_meta
        return model.eval()


@MODELS.register_module(name='ViTPoseOnnxHeatmaps')
class OnnxHeatmaps(nn.Module):
    """Backbone stand-in of :meth:`OnnxPoseModel.as_estimator`: the whole
    exported graph, (B, 3, H, W) crops -> ((B, K, h, w) heatmaps,).

    Args:
        runner (OnnxPoseModel): The loaded file.
    """

    def __init__(self, runner: OnnxPoseModel) -> None:
        super().__init__()
        self.runner = runner

    def forward(self, x: Tensor) -> Tuple[Tensor]:
        """(B, 3, H, W) -> a tuple of one (B, K, h, w) float32 tensor on
        ``x``'s device."""
        return (torch.from_numpy(self.runner.heatmaps(x)).to(x.device), )
