"""Bottom-up ViTPose through mmengine's Runner: one training epoch and a
test with mmpose's CocoMetric on whole images (no boxes), on tiny COCO and
tiny CrowdPose."""
import json

from mmengine.runner import Runner

from tests.conftest import REPO, require_shared
from tests.tiny import TINY_CONFIG_BACKBONE
from vitpose_mm.tools.data_root import load_run_config

CONFIGS = REPO / 'configs/body_2d_keypoint/associative_embedding'
TINY = TINY_CONFIG_BACKBONE


def shrink(cfg, work_dir):
    cfg.model.backbone.update(TINY)
    cfg.model.head.update(in_channels=32, deconv_out_channels=(16, 16))
    cfg.optim_wrapper.paramwise_cfg.num_layers = TINY['depth']
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    return cfg


def test_tiny_coco_trains_and_evaluates_without_boxes(tmp_path):
    data = require_shared('data/coco')
    cfg = shrink(load_run_config(
        str(CONFIGS / 'coco_tiny/vitpose-mm_ae_ViTPose-tiny_1xb4-600e_'
            'coco-tiny-384x384.py'), dict(data_root=f'{data}/')), tmp_path)
    cfg.val_evaluator.outfile_prefix = str(tmp_path / 'preds')
    assert 'bbox_file' not in cfg.val_dataloader.dataset
    assert cfg.val_dataloader.dataset.data_mode == 'bottomup'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'epoch_1.pth').is_file()
    metrics = runner.test()
    assert {'coco/AP', 'coco/AP .5', 'coco/AR'} <= set(metrics)
    preds = json.loads((tmp_path / 'preds.keypoints.json').read_text())
    # Every prediction is a whole-image detection: 17 keypoints, a score,
    # on one of the 4 images.
    images = {i['id'] for i in json.loads(
        (data / 'test_coco.json').read_text())['images']}
    assert {p['image_id'] for p in preds} <= images
    assert all(len(p['keypoints']) == 17 * 3 for p in preds)

    # The checkpoint this training wrote runs in mmpose's own inferencer.
    from mmpose.apis import MMPoseInferencer
    cfg.dump(str(tmp_path / 'config.py'))
    inferencer = MMPoseInferencer(
        pose2d=str(tmp_path / 'config.py'),
        pose2d_weights=str(tmp_path / 'epoch_1.pth'), device='cpu')
    assert type(inferencer.inferencer.model).__name__ == \
        'BottomupPoseEstimator'
    assert type(inferencer.inferencer.model.head).__name__ == 'ViTPoseAEHead'
    (result, ) = list(inferencer(str(data / '000000197388.jpg'),
                                 return_vis=False))
    (people, ) = result['predictions']
    for person in people:
        assert len(person['keypoints']) == 17
        assert len(person['keypoint_scores']) == 17


def test_crowdpose_config_evaluates_with_crowdpose_metric(tmp_path):
    data = require_shared('data/crowdpose')
    cfg = shrink(load_run_config(
        str(CONFIGS / 'crowdpose/vitpose-mm_ae_ViTPose-base_8xb32-300e_'
            'crowdpose-512x512.py')), tmp_path)
    cfg.test_dataloader.dataset.update(
        data_root=str(data), ann_file='test_crowdpose.json',
        data_prefix=dict(img=''))
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_evaluator.ann_file = str(data / 'test_crowdpose.json')
    cfg.model.backbone.img_size = (256, 256)  # a small input is enough
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'BottomupResize':
            step['input_size'] = (256, 256)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert {'crowdpose/AP', 'crowdpose/AP(E)', 'crowdpose/AP(M)',
            'crowdpose/AP(H)'} <= set(metrics)
