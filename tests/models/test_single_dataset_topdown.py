"""The single-dataset top-down configs (the original repo's other tasks)
train one epoch and evaluate with mmpose's metric on the shared tiny sets,
each at a tiny model size (embed 32, depth 2, 64x48 input)."""
import json

import numpy as np
import pytest
from mmengine.runner import Runner

from tests.conftest import REPO, require_shared
from tests.tiny import TINY_CONFIG_BACKBONE
from vitpose_mm.tools.data_root import load_run_config

TOPDOWN = REPO / 'configs/body_2d_keypoint/topdown_heatmap'
TINY = dict(TINY_CONFIG_BACKBONE, img_size=(64, 48))


def _mpii_headboxes(data, tmp_path):
    """A ``mpii_gt_val.mat`` for the tiny MPII set: a square head box on
    the upper-neck (8) to head-top (9) segment of each annotation."""
    from scipy.io import savemat
    boxes = []
    for ann in json.loads((data / 'test_mpii.json').read_text()):
        neck, top = np.asarray(ann['joints'])[[8, 9]]
        centre, half = (neck + top) / 2, np.linalg.norm(top - neck) / 2
        boxes.append([centre - half, centre + half])
    path = tmp_path / 'headboxes.mat'
    savemat(path, dict(headboxes_src=np.transpose(boxes, (1, 2, 0))))
    return str(path)


def _mpii(data, tmp_path):
    return dict(ann_file='test_mpii.json'), dict(
        ann_file='test_mpii.json',
        headbox_file=_mpii_headboxes(data, tmp_path)), {}


def _crowdpose(data, tmp_path):
    ann = 'test_crowdpose.json'
    return dict(ann_file=ann), dict(
        ann_file=ann, bbox_file=str(data / 'test_crowdpose_det_AP_40.json')
    ), dict(ann_file=str(data / ann))


CASES = {
    'mpii/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_mpii-256x192.py':
    ('mpii', _mpii, {'PCK', 'PCK@0.1', 'Head PCK'}),
    'crowdpose/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_crowdpose-256x192.py':
    ('crowdpose', _crowdpose,
     {'crowdpose/AP', 'crowdpose/AP(E)', 'crowdpose/AP(M)',
      'crowdpose/AP(H)'}),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_config_trains_and_evaluates_on_tiny_set(name, tmp_path):
    folder, datasets, expected = CASES[name]
    data = require_shared(f'data/{folder}')
    cfg = load_run_config(str(TOPDOWN / name))
    train, test, metric = datasets(data, tmp_path)
    cfg.model.backbone.update(TINY)
    cfg.model.head.update(in_channels=32, deconv_out_channels=(16, 16))
    codec = dict(cfg.codec, input_size=(48, 64), heatmap_size=(12, 16))
    cfg.model.head.decoder = codec
    for loader, extra in (('train_dataloader', train),
                          ('val_dataloader', test),
                          ('test_dataloader', test)):
        section = cfg[loader]
        section.update(batch_size=2, num_workers=0, persistent_workers=False)
        section.dataset.update(data_root=str(data),
                               data_prefix=dict(img=''), **extra)
        for step in section.dataset.pipeline:
            if step['type'] == 'TopdownAffine':
                step['input_size'] = codec['input_size']
            if step['type'] == 'GenerateTarget':
                step['encoder'] = codec
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].update(metric)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'epoch_1.pth').is_file()
    metrics = runner.test()
    assert expected <= set(metrics), sorted(metrics)
    # PCKh is in percent; COCO-style AP in [0, 1], -1 where the tiny set
    # has no instance of that crowd level (COCOeval's empty-bin value).
    for key in expected:
        assert metrics[key] == -1 or 0.0 <= metrics[key] <= 100.0, \
            (key, metrics[key])
