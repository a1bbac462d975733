"""Bottom-up inference API: init_pose_model dispatch, fast path, results,
the detector-free demo."""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmengine.registry import DefaultScope
from mmpose.registry import MODELS

from tests.conftest import REPO, require_shared
from vitpose_mm.apis import (estimate_poses_bottomup,
                             init_pose_model, is_bottomup, make_visualizer,
                             render, to_instances)
from vitpose_mm.tools import demo
from vitpose_mm.tools.data_root import load_run_config

CONFIG = (REPO / 'configs/body_2d_keypoint/associative_embedding/coco_tiny/'
          'vitpose-mm_ae_ViTPose-tiny_1xb4-600e_coco-tiny-384x384.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """A tiny bottom-up config and a checkpoint of random weights."""
    cfg = load_run_config(str(CONFIG))
    cfg.model.backbone.update(embed_dim=32, depth=2, num_heads=2)
    cfg.model.head.update(in_channels=32, deconv_out_channels=(16, 16))
    torch.manual_seed(0)
    # mmpose's registry, whatever scope an earlier test left current (an
    # in-process mmdet detector makes 'mmdet' the default scope).
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    path = tmp_path_factory.mktemp('bottomup') / 'tiny.pth'
    torch.save(model.state_dict(), path)
    return cfg, str(path)


def test_config_model_type_decides_and_fast_path_agrees(tiny):
    cfg, ckpt = tiny
    eager = init_pose_model(cfg.copy(), ckpt, fast=False)
    fast = init_pose_model(cfg.copy(), ckpt, fast=True)
    assert isinstance(eager, BottomupPoseEstimator) and is_bottomup(fast)
    x = torch.randn(1, 3, 384, 576)  # a whole image, not img_size
    with torch.no_grad():
        ref = eager.head.forward(eager.extract_feat(x))
        out = fast.head.forward(fast.extract_feat(x))
    for a, b in zip(out, ref):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


def test_image_with_nobody_gives_an_empty_result(tiny):
    cfg, ckpt = tiny
    model = init_pose_model(cfg.copy(), ckpt)
    blank = np.full((240, 320, 3), 127, np.uint8)
    sample = estimate_poses_bottomup(model, blank)
    assert sample is None and to_instances(sample) == []
    assert render(make_visualizer(model.dataset_meta), blank,
                  sample).shape == blank.shape


def test_results_have_the_top_down_fields(tiny):
    cfg, ckpt = tiny
    cfg = cfg.copy()
    # Keep every candidate of the random model, so that people come out.
    cfg.model.head.decoder.decode_keypoint_thr = 0.0
    model = init_pose_model(cfg, ckpt)
    img = cv2.imread(str(require_shared('data/coco/000000197388.jpg')))
    sample = estimate_poses_bottomup(model, img)
    assert sample is not None
    pred = sample.pred_instances
    n = len(pred)
    assert pred.keypoints.shape == (n, 17, 2)
    assert pred.bboxes.shape == (n, 4) and pred.bbox_scores.shape == (n, )
    # Boxes enclose each person's keypoints, in image pixels.
    assert (pred.bboxes[:, :2] <= pred.keypoints.min(1) + 1e-3).all()
    assert (pred.bboxes[:, 2:] >= pred.keypoints.max(1) - 1e-3).all()
    instances = to_instances(sample)
    assert len(instances) == n
    assert set(instances[0]) >= {'bbox', 'bbox_score', 'keypoints',
                                 'keypoint_scores'}
    assert render(make_visualizer(model.dataset_meta), img,
                  sample).shape == img.shape
    fewer = estimate_poses_bottomup(model, img, score_thr=float(
        np.median(pred.bbox_scores)))
    assert fewer is None or len(fewer.pred_instances) < n


def test_top_down_and_bottom_up_calls_refuse_each_others_model(tiny):
    cfg, ckpt = tiny
    model = init_pose_model(cfg.copy(), ckpt, fast=False)
    with pytest.raises(ValueError, match='uint8 BGR'):
        estimate_poses_bottomup(model, np.zeros((8, 8), np.uint8))
    td = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ViTPoseBackbone', img_size=(64, 48),
                      embed_dim=32, depth=1, num_heads=2),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17)))
    with pytest.raises(ValueError, match='not a bottom-up model'):
        estimate_poses_bottomup(td, np.zeros((8, 8, 3), np.uint8))


def test_demo_runs_a_bottom_up_config_without_a_detector(tiny, tmp_path):
    """The CLI on a folder: no --det-config, the config's model type
    decides; JSON fields as top-down, one rendered image per input."""

    cfg, ckpt = tiny
    cfg = cfg.copy()
    cfg.model.head.decoder.decode_keypoint_thr = 0.0
    config = tmp_path / 'ae.py'
    cfg.dump(str(config))
    images = tmp_path / 'in'
    images.mkdir()
    shutil.copy(require_shared('data/coco/000000197388.jpg'), images)
    cv2.imwrite(str(images / 'blank.png'),
                np.full((120, 160, 3), 127, np.uint8))
    out = tmp_path / 'out'
    demo.main(['--input', str(images), '--pose-config', str(config),
               '--pose-checkpoint', ckpt, '--output-dir', str(out),
               '--bottom-up', '--bbox-thr', '0'])
    people = json.loads((out / '000000197388.json').read_text())
    assert people and set(people[0]) == {'bbox', 'bbox_score', 'keypoints',
                                         'keypoint_scores'}
    assert len(people[0]['keypoints']) == 17
    # (an image with nobody gives [], test_image_with_nobody_... above;
    # this random model, made to keep every candidate, finds noise there)
    assert isinstance(json.loads((out / 'blank.json').read_text()), list)
    assert (out / '000000197388.jpg').is_file() and (out / 'blank.png'
                                                     ).is_file()


def test_demo_refuses_boxes_for_bottom_up_and_flag_for_top_down(
        tiny, capsys):
    cfg, ckpt = tiny
    with pytest.raises(SystemExit) as err:
        demo.parse_args(['--input', 'x.jpg', '--pose-config', str(CONFIG),
                         '--pose-checkpoint', ckpt, '--output-dir', 'o',
                         '--bboxes', 'b.json'])
    assert err.value.code == 2
    td = str(REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny')
    td_config = sorted(Path(td).glob('*.py'))[0]
    with pytest.raises(SystemExit) as err:
        demo.parse_args(['--input', 'x.jpg', '--pose-config', str(td_config),
                         '--pose-checkpoint', ckpt, '--output-dir', 'o',
                         '--bottom-up'])
    assert err.value.code == 2
    assert ('is not a bottom-up model (its model type is not '
            'BottomupPoseEstimator)') in capsys.readouterr().err


def test_stock_mmpose_inferencer_runs_a_bottom_up_config(tiny, tmp_path):
    """mmpose's own MMPoseInferencer(pose2d=CONFIG, pose2d_weights=CKPT):
    no detector, whole image, predictions in image pixels."""
    from mmpose.apis import MMPoseInferencer

    cfg, ckpt = tiny
    cfg = cfg.copy()
    cfg.model.head.decoder.decode_keypoint_thr = 0.0
    config = tmp_path / 'ae.py'
    cfg.dump(str(config))
    img_path = require_shared('data/coco/000000197388.jpg')
    h, w = cv2.imread(str(img_path)).shape[:2]
    inferencer = MMPoseInferencer(
        pose2d=str(config), pose2d_weights=ckpt, device='cpu')
    result = next(inferencer(str(img_path), show=False))
    people = result['predictions'][0]
    assert people, 'the random model keeps every candidate: people expected'
    kpts = np.array([p['keypoints'] for p in people])
    assert kpts.shape[1:] == (17, 2)
    # Image pixels, not input pixels: the 640-pixel width fills the
    # 384-pixel input (the height is padded, so padding rows map outside
    # the image), so x spans the image beyond 384 and never leaves it.
    assert w == 640 and h < w
    x = kpts[..., 0]
    assert x.min() >= -1 and x.max() <= w + 1 and x.max() > 384
