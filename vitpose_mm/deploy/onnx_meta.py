"""What an exported ``.onnx`` file says about its model (ONNX metadata).

:func:`~vitpose_mm.deploy.export_onnx` writes these ``metadata_props``:

===========================  ==========================================
key                          value
===========================  ==========================================
``vitpose_mm.format``        ``'1'``
``vitpose_mm.config``        the full mmengine config text (pipeline,
                             data preprocessor, codec, test_cfg)
``vitpose_mm.dataset``       ViTPose+: the dataset whose expert and
                             head were exported (e.g. ``'coco'``), else
                             ``''``
``vitpose_mm.runtime``       JSON (:func:`runtime_spec`): everything a
                             reader without mmengine / mmpose needs to
                             crop, normalise, flip, decode and draw
===========================  ==========================================

The ``vitpose_mm.runtime`` JSON (``version`` 1), read by
``projects/vitpose_runtime``::

    {"version": 1,
     "precision": "fp32" | "int8",
     "dataset": "coco" | null,           # ViTPose+ expert, else null
     "codec": {"type": "ViTPoseUDPHeatmap",
               "input_size": [w, h],     # crop, pixels
               "heatmap_size": [W, H],
               "blur_kernel_size": 11},
     "preprocess": {"mean": [3 floats], "std": [3 floats],
                    "bgr_to_rgb": true,  # mean / std are in RGB order
                    "bbox_padding": 1.25,  # GetBBoxCenterScale
                    "use_udp": true},    # TopdownAffine
     "test_cfg": {"flip_test": true, "flip_mode": "heatmap",
                  "shift_heatmap": false},
     "meta": {"dataset_name": "coco", "keypoint_names": [K names],
              "flip_indices": [K ints],
              "skeleton_links": [[i, j], ...],
              "skeleton_link_colors": [[r, g, b], ...],
              "keypoint_colors": [[r, g, b], ...]}}

Colours are those of mmpose's dataset metainfo, drawn by mmpose's
``PoseLocalVisualizer`` into an RGB image.
"""
import json
from copy import deepcopy
from typing import Optional

import numpy as np
from mmengine.config import Config

FORMAT_VERSION = '1'
META_FORMAT = 'vitpose_mm.format'
META_CONFIG = 'vitpose_mm.config'
META_DATASET = 'vitpose_mm.dataset'
META_RUNTIME = 'vitpose_mm.runtime'
#: Version of the ``vitpose_mm.runtime`` JSON.
RUNTIME_SPEC_VERSION = 1
#: mmpose's ``GetBBoxCenterScale`` default padding.
DEFAULT_BBOX_PADDING = 1.25


def _dataset_entry(cfg: Config, dataset: str) -> dict:
    for entry in cfg.model.get('datasets') or []:
        if entry.get('name') == dataset:
            return entry
    raise ValueError(f'The exported config has no dataset {dataset!r}')


def head_config(cfg: Config, dataset: Optional[str] = None) -> dict:
    """The head config of ``cfg`` (ViTPose+: with ``dataset``'s
    overrides)."""
    head = dict(deepcopy(cfg.model.head))
    if dataset:
        head.update(deepcopy(_dataset_entry(cfg, dataset).get('head') or {}))
    return head


def dataset_meta(cfg: Config, dataset: Optional[str] = None) -> dict:
    """The dataset metainfo that mmpose's ``init_model`` would give
    (ViTPose+: that of ``dataset``'s entry), parsed by
    ``parse_pose_metainfo``."""
    from mmpose.apis.inference import dataset_meta_from_config
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    if not dataset:
        meta = dataset_meta_from_config(cfg, dataset_mode='train')
        if meta is None:
            raise ValueError('The exported config names no dataset')
        return meta
    entry = _dataset_entry(cfg, dataset)
    if 'metainfo' in entry:
        return parse_pose_metainfo(deepcopy(dict(entry['metainfo'])))
    return parse_pose_metainfo(
        deepcopy(DATASETS.get(entry['dataset_type']).METAINFO))


def _test_pipeline(cfg: Config) -> list:
    """The top-down test pipeline of ``cfg`` (ViTPose+: of its first
    dataset; they differ only in the dataset-index step), or []."""
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    if 'pipeline' not in dataset and dataset.get('datasets'):
        dataset = dataset['datasets'][0]
    return list(dataset.get('pipeline') or [])


def _colors(values, count: int) -> list:
    """(count, 3) int RGB colours as lists; [] when the meta has none."""
    if values is None:
        return []
    return np.asarray(values, dtype=np.int64).reshape(count, 3).tolist()


def runtime_spec(cfg: Config, dataset: Optional[str] = None,
                 precision: str = 'fp32') -> dict:
    """The ``vitpose_mm.runtime`` JSON of an exported model (module doc).

    Args:
        cfg (Config): The model config.
        dataset (str, optional): ViTPose+: the exported dataset.
        precision (str): ``'fp32'`` or ``'int8'`` (linear layers).

    Raises:
        ValueError: If the head's codec has no ``input_size`` /
            ``heatmap_size``, or the test pipeline's ``TopdownAffine``
            takes another input size than the codec.
    """
    head = head_config(cfg, dataset)
    codec = dict(head.get('decoder') or {})
    if 'input_size' not in codec or 'heatmap_size' not in codec:
        raise ValueError(f'The head decoder {codec} has no input_size / '
                         'heatmap_size')
    preprocess = dict(cfg.model.get('data_preprocessor') or {})
    padding, use_udp = DEFAULT_BBOX_PADDING, False
    for step in _test_pipeline(cfg):
        if step.get('type') == 'GetBBoxCenterScale':
            padding = float(step.get('padding', DEFAULT_BBOX_PADDING))
        elif step.get('type') == 'TopdownAffine':
            use_udp = bool(step.get('use_udp', False))
            if tuple(step['input_size']) != tuple(codec['input_size']):
                raise ValueError(
                    f"TopdownAffine input_size {tuple(step['input_size'])} "
                    f"differs from the codec's {tuple(codec['input_size'])}")
    meta = dataset_meta(cfg, dataset)
    count = len(meta['flip_indices'])
    names = meta.get('keypoint_id2name') or {}
    test_cfg = dict(cfg.model.get('test_cfg') or {})
    return dict(
        version=RUNTIME_SPEC_VERSION,
        precision=precision,
        dataset=dataset or None,
        codec=dict(
            type=codec.get('type'),
            input_size=[int(v) for v in codec['input_size']],
            heatmap_size=[int(v) for v in codec['heatmap_size']],
            blur_kernel_size=int(codec.get('blur_kernel_size', 11))),
        preprocess=dict(
            mean=[float(v) for v in preprocess.get('mean', (0., 0., 0.))],
            std=[float(v) for v in preprocess.get('std', (1., 1., 1.))],
            bgr_to_rgb=bool(preprocess.get('bgr_to_rgb', False)),
            bbox_padding=padding,
            use_udp=use_udp),
        test_cfg=dict(
            flip_test=bool(test_cfg.get('flip_test', False)),
            flip_mode=str(test_cfg.get('flip_mode', 'heatmap')),
            shift_heatmap=bool(test_cfg.get('shift_heatmap', False))),
        meta=dict(
            dataset_name=str(meta.get('dataset_name', '')),
            keypoint_names=[str(names.get(i, i)) for i in range(count)],
            flip_indices=[int(i) for i in meta['flip_indices']],
            skeleton_links=[[int(a), int(b)]
                            for a, b in meta.get('skeleton_links') or []],
            skeleton_link_colors=_colors(
                meta.get('skeleton_link_colors'),
                len(meta.get('skeleton_links') or [])),
            keypoint_colors=_colors(meta.get('keypoint_colors'), count)))


def runtime_spec_json(cfg: Config, dataset: Optional[str] = None,
                      precision: str = 'fp32') -> str:
    """:func:`runtime_spec` as compact JSON text."""
    return json.dumps(runtime_spec(cfg, dataset, precision),
                      separators=(',', ':'))
