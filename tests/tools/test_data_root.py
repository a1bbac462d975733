"""Unit tests of vitpose_mm.tools.data_root (no data needed)."""
import pytest
from mmengine.config import Config

from vitpose_mm.tools.data_root import (check_data_files, load_run_config,
                                        missing_data_files, redirect_data_root)
from tests.conftest import REPO

TINY = (
    REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
    'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')
FULL = (
    REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco/'
    'vitpose-mm_td-hm_ViTPose-base_8xb64-210e_coco-256x192.py')


def _cfg(root='data/coco/'):
    """A config shaped like ours: paths built as ``root + relative``."""
    prefix = root if root.endswith('/') else root + '/'
    return Config(
        dict(
            data_root=root,
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=2,
                    dataset=dict(data_root=root, ann_file='ann/train.json'))),
            val_dataloader=dict(
                dataset=dict(
                    data_root=root,
                    ann_file='ann/val.json',
                    bbox_file=prefix + 'det/boxes.json')),
            test_dataloader=dict(
                dataset=dict(
                    type='CombinedDataset',
                    datasets=[
                        dict(data_root=root, ann_file=prefix + 'ann/abs.json'),
                        dict(data_root='elsewhere/', ann_file='x.json')
                    ])),
            val_evaluator=dict(ann_file=prefix + 'ann/val.json'),
            test_evaluator=[
                dict(ann_file=prefix + 'ann/val.json'),
                dict(type='Other')
            ]))


@pytest.mark.parametrize(
    'new_root, expect',
    [
        ('/new/coco/', '/new/coco/'),
        ('/new/coco', '/new/coco'),  # no trailing slash: joined with '/'
    ])
def test_redirect_moves_every_path_built_from_the_root(new_root, expect):
    cfg = _cfg()
    cfg.merge_from_dict(dict(data_root=new_root))
    changed = redirect_data_root(cfg, 'data/coco/')
    join = expect.rstrip('/') + '/'
    inner = cfg.train_dataloader.dataset.dataset
    assert inner.data_root == expect
    assert inner.ann_file == 'ann/train.json'  # relative part kept
    val = cfg.val_dataloader.dataset
    assert val.data_root == expect
    assert val.bbox_file == join + 'det/boxes.json'
    first, second = cfg.test_dataloader.dataset.datasets
    assert first.ann_file == join + 'ann/abs.json'
    assert second.data_root == 'elsewhere/'  # not under the old root
    assert cfg.val_evaluator.ann_file == join + 'ann/val.json'
    assert cfg.test_evaluator[0].ann_file == join + 'ann/val.json'
    assert 'val_dataloader.dataset.bbox_file' in changed
    assert 'test_evaluator.0.ann_file' in changed
    assert 'test_dataloader.dataset.datasets.1.data_root' not in changed


def test_redirect_keeps_explicit_overrides_and_sibling_folders():
    cfg = _cfg('data/coco')
    cfg.merge_from_dict({
        'data_root': '/new/',
        'val_dataloader.dataset.data_root': '/mine/',
        'val_evaluator.ann_file': 'data/coco2/val.json'
    })
    redirect_data_root(cfg, 'data/coco')
    assert cfg.val_dataloader.dataset.data_root == '/mine/'
    assert cfg.val_evaluator.ann_file == 'data/coco2/val.json'
    assert cfg.val_dataloader.dataset.bbox_file == '/new/det/boxes.json'


@pytest.mark.parametrize('old, new', [('data/coco/', 'data/coco/'),
                                      (None, '/new/'), ('data/coco/', None)])
def test_redirect_does_nothing_without_a_new_root(old, new):
    cfg = _cfg()
    cfg.data_root = new
    before = cfg.to_dict()
    assert redirect_data_root(cfg, old) == []
    assert cfg.to_dict() == before


def test_load_config_redirects_a_shipped_config(tmp_path):
    cfg = load_run_config(str(FULL), dict(data_root=str(tmp_path) + '/'))
    root = str(tmp_path) + '/'
    assert cfg.train_dataloader.dataset.data_root == root
    assert cfg.test_dataloader.dataset.data_root == root
    assert cfg.val_dataloader.dataset.bbox_file == (
        root + 'person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json')
    assert cfg.test_evaluator.ann_file == (
        root + 'annotations/person_keypoints_val2017.json')


def test_load_config_missing_file_exits_with_its_name(tmp_path):
    with pytest.raises(SystemExit, match='config file not found.*nope.py'):
        load_run_config(str(tmp_path / 'nope.py'))


def test_missing_data_files_names_key_and_path(tmp_path):
    (tmp_path / 'ann').mkdir()
    (tmp_path / 'ann' / 'train.json').write_text('{}')
    cfg = _cfg()
    cfg.merge_from_dict(dict(data_root=str(tmp_path) + '/'))
    redirect_data_root(cfg, 'data/coco/')
    assert missing_data_files(cfg, ('train_dataloader', )) == []
    missing = missing_data_files(cfg, ('val_dataloader', 'val_evaluator'))
    assert [m.split(' = ')[0] for m in missing] == [
        'val_dataloader.dataset.ann_file', 'val_dataloader.dataset.bbox_file',
        'val_evaluator.ann_file'
    ]
    assert str(tmp_path / 'ann' / 'val.json') in missing[0]


def test_check_data_files_message_says_what_to_do(tmp_path):
    cfg = load_run_config(str(TINY), dict(data_root=str(tmp_path / 'no') + '/'))
    with pytest.raises(SystemExit) as info:
        check_data_files(cfg, ('train_dataloader', ))
    message = str(info.value)
    assert '\n' not in message
    assert 'train_dataloader.dataset.data_root' in message
    assert str(tmp_path / 'no') in message
    assert '--cfg-options data_root=' in message


def test_redirect_reaches_multi_dataset_evaluator_metrics_and_datasets():
    old, new = 'data/', '/elsewhere/'
    evaluator = dict(
        type='MultiDatasetEvaluator',
        metrics=[dict(type='CocoMetric', ann_file=old + 'coco/a.json'),
                 dict(type='PCKAccuracy')],
        datasets=[dict(type='CocoDataset', data_root=old + 'coco/')])
    cfg = Config(dict(data_root=new, val_evaluator=evaluator))
    changed = redirect_data_root(cfg, old)
    assert cfg.val_evaluator.metrics[0].ann_file == '/elsewhere/coco/a.json'
    assert cfg.val_evaluator.datasets[0].data_root == '/elsewhere/coco/'
    assert sorted(changed) == ['val_evaluator.datasets.0.data_root',
                               'val_evaluator.metrics.0.ann_file']
