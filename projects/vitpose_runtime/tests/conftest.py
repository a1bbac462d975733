"""Fixtures of the runtime's own tests (run by ../run_tests.sh in a venv
without torch / mmcv).

Files of the project's shared folder (real COCO images, the YOLOX ONNX
detector) are found through ``VITPOSE_MM_SHARED`` or at
``<repo>/../shared``; tests needing them skip when absent, or fail where
``VITPOSE_MM_REQUIRE_SHARED=1`` (CI).
"""
import json
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]


def require_shared(relpath: str) -> Path:
    """A path under the shared folder; skip (or fail in CI) if absent."""
    root = Path(os.environ.get('VITPOSE_MM_SHARED', REPO.parent / 'shared'))
    path = root / relpath
    if not path.exists():
        reason = f'{path} not found: set VITPOSE_MM_SHARED'
        if os.environ.get('VITPOSE_MM_REQUIRE_SHARED') == '1':
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


#: COCO's 17 keypoints: flip pairs and a 3-link skeleton are enough here.
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def runtime_spec(input_size=(48, 64), flip_test=False, precision='fp32'):
    """A ``vitpose_mm.runtime`` JSON as ``export_onnx`` writes it
    (vitpose_mm/deploy/onnx_meta.py), for a K = 17 COCO model."""
    w, h = input_size
    return dict(
        version=1, precision=precision, dataset=None,
        codec=dict(type='ViTPoseUDPHeatmap', input_size=[w, h],
                   heatmap_size=[w // 4, h // 4], blur_kernel_size=11),
        preprocess=dict(mean=[0., 0., 0.], std=[255., 255., 255.],
                        bgr_to_rgb=True, bbox_padding=1.25, use_udp=True),
        test_cfg=dict(flip_test=flip_test, flip_mode='heatmap',
                      shift_heatmap=False),
        meta=dict(dataset_name='coco',
                  keypoint_names=[f'k{i}' for i in range(17)],
                  flip_indices=COCO_FLIP,
                  skeleton_links=[[0, 1], [0, 2], [5, 6]],
                  skeleton_link_colors=[[0, 255, 0]] * 3,
                  keypoint_colors=[[255, 128, 0]] * 17))


def blob_pose_onnx(path: Path, input_size=(48, 64), flip_test=False,
                   batch='batch', precision='fp32') -> Path:
    """A stand-in pose model as ONNX: the heatmaps of every keypoint are
    the crop's brightness (channel mean) average-pooled 4x4, so a bright
    dot in the image peaks where it lies in the crop. ``batch``: a name
    (dynamic) or a fixed int; ``precision``: what its metadata says."""
    import onnx
    from onnx import TensorProto, helper
    w, h = input_size
    weight = np.full((17, 3, 1, 1), 1 / 3, np.float32)
    graph = helper.make_graph(
        [helper.make_node('AveragePool', ['input'], ['pooled'],
                          kernel_shape=[4, 4], strides=[4, 4]),
         helper.make_node('Conv', ['pooled', 'w'], ['heatmaps'])],
        'blob_pose',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [batch, 3, h, w])],
        [helper.make_tensor_value_info('heatmaps', TensorProto.FLOAT,
                                       [batch, 17, h // 4, w // 4])],
        [onnx.numpy_helper.from_array(weight, 'w')])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for key, value in {
            'vitpose_mm.format': '1',
            'vitpose_mm.dataset': '',
            'vitpose_mm.runtime': json.dumps(
                runtime_spec(input_size, flip_test, precision))}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def dot_image(xy, size=(160, 120), radius=2) -> np.ndarray:
    """(H, W, 3) uint8 black image with a white disc at ``xy``."""
    import cv2
    img = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.circle(img, (int(xy[0]), int(xy[1])), radius, (255, 255, 255), -1)
    return img


@pytest.fixture
def pose_onnx(tmp_path):
    return blob_pose_onnx(tmp_path / 'pose.onnx')
