"""The single-dataset top-down configs (the original repo's other tasks)
train one epoch and evaluate with mmpose's metric on the shared tiny sets,
each at a tiny model size (embed 32, depth 2, 64x48 input)."""
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.runner import Runner

from tests.conftest import REPO, require_shared
from tests.tiny import shrink_topdown
from vitpose_mm.tools.data_root import load_run_config

TOPDOWN = REPO / 'configs/body_2d_keypoint/topdown_heatmap'


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


def _coco_style(data, tmp_path, ann, **test):
    """Train and test on ``ann``; the metric writes its predictions to
    ``tmp_path/preds.keypoints.json`` for :func:`_check_predictions`."""
    return dict(ann_file=ann), dict(ann_file=ann, **test), dict(
        ann_file=str(data / ann), outfile_prefix=str(tmp_path / 'preds'))


def _crowdpose(data, tmp_path):
    return _coco_style(
        data, tmp_path, 'test_crowdpose.json',
        bbox_file=str(data / 'test_crowdpose_det_AP_40.json'))


def _aic(data, tmp_path):
    # No bbox_file: the config's own ground-truth boxes are tested.
    return _coco_style(data, tmp_path, 'test_aic.json')


def _ochuman(data, tmp_path):
    # Trained on the tiny COCO set, as the config trains on COCO.
    train, test, metric = _coco_style(data, tmp_path, 'test_ochuman.json')
    coco = require_shared('data/coco')
    return dict(data_root=str(coco), ann_file='test_coco.json'), test, metric


def _humanart(data, tmp_path):
    # The annotations name 'HumanArt/images/<kind>/<file>', relative to the
    # config's data_root (the layout mmpose documents); the shared folder is
    # that images folder.
    (tmp_path / 'HumanArt').mkdir()
    (tmp_path / 'HumanArt' / 'images').symlink_to(data)
    ann = str(data / 'test_humanart.json')
    return dict(data_root=str(tmp_path), ann_file=ann), dict(
        data_root=str(tmp_path), ann_file=ann,
        bbox_file=str(data / 'test_humanart_det_AP_H_56.json')), dict(
            ann_file=ann, outfile_prefix=str(tmp_path / 'preds'))


def _coco_keys(prefix):
    return {f'{prefix}/{key}' for key in ('AP', 'AP .5', 'AP .75', 'AR')}


#: config -> (shared folder, dataset overrides, metric keys, boxes tested:
#: 'gt' (every annotation), a detection file name, or None (not checked)).
CASES = {
    'mpii/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_mpii-256x192.py':
    ('mpii', _mpii, {'PCK', 'PCK@0.1', 'Head PCK'}, None),
    'crowdpose/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_crowdpose-256x192.py':
    ('crowdpose', _crowdpose,
     {'crowdpose/AP', 'crowdpose/AP(E)', 'crowdpose/AP(M)',
      'crowdpose/AP(H)'}, 'test_crowdpose_det_AP_40.json'),
    'aic/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_aic-256x192.py':
    ('aic', _aic, _coco_keys('aic'), 'gt'),
    'ochuman/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192_ochuman.py':
    ('ochuman', _ochuman, _coco_keys('ochuman'), 'gt'),
    'humanart/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_humanart-256x192.py':
    ('humanart', _humanart, _coco_keys('humanart'),
     'test_humanart_det_AP_H_56.json'),
}


def _check_predictions(path, ann_file, boxes, num_keypoints, dataset):
    """The test set holds one instance per box of the protocol (every
    ground-truth person, or every detection), and the metric's prediction
    file has ``num_keypoints`` (x, y, score) per person, for images of the
    set only, at most one per instance."""
    images = {image['id'] for image in
              json.loads(Path(ann_file).read_text())['images']}
    if boxes == 'gt':
        expected = len(json.loads(Path(ann_file).read_text())['annotations'])
    else:
        expected = sum(box['image_id'] in images for box in
                       json.loads((Path(ann_file).parent / boxes).read_text()))
    assert len(dataset) == expected, (len(dataset), boxes)
    predictions = json.loads(path.read_text())
    assert 0 < len(predictions) <= expected
    assert {pred['image_id'] for pred in predictions} <= images
    assert {len(pred['keypoints']) for pred in predictions} == \
        {3 * num_keypoints}


@pytest.mark.parametrize('name', sorted(CASES))
def test_config_trains_and_evaluates_on_tiny_set(name, tmp_path):
    folder, datasets, expected, boxes = CASES[name]
    data = require_shared(f'data/{folder}')
    cfg = load_run_config(str(TOPDOWN / name))
    train, test, metric = datasets(data, tmp_path)
    shrink_topdown(cfg, data, (48, 64), {'train_dataloader': train,
                                         'val_dataloader': test,
                                         'test_dataloader': test})
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
    if boxes is not None:
        _check_predictions(tmp_path / 'preds.keypoints.json',
                           metric['ann_file'], boxes,
                           cfg.model.head.out_channels,
                           runner.test_dataloader.dataset)
