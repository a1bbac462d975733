"""ViTPose+ data: the dataset-index transform, the multi-dataset wrapper and
APT-36K on the real tiny sets, and per-dataset evaluation wiring, all read
from the shipped tiny six-dataset config."""
import copy
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS, EVALUATORS, MODELS, TRANSFORMS

from tests.conftest import REPO, require_shared
from vitpose_mm.tools.data_root import redirect_data_root

TINY = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/'
        'vitpose-mm_td-hm_ViTPose-plus-tiny_1xb16-3e_6datasets-tiny-256x192.py')
#: (dataset_index, dataset_name, keypoints, people) of the tiny config.
EXPECTED = [(0, 'coco', 17, 12), (1, 'aic', 14, 9), (2, 'mpii', 16, 5),
            (3, 'ap10k', 17, 2), (4, 'apt36k', 17, 2),
            (5, 'coco_wholebody', 133, 12)]


@pytest.fixture(scope='module')
def tiny_cfg() -> Config:
    """The tiny config, its data under the shared folder."""
    data = require_shared('data')
    cfg = Config.fromfile(str(TINY))
    old_root, cfg.data_root = cfg.data_root, f'{data}/'
    redirect_data_root(cfg, old_root)
    return cfg


@pytest.fixture(scope='module')
def train_set(tiny_cfg):
    return DATASETS.build(tiny_cfg.train_dataloader.dataset)


@pytest.mark.parametrize('registry,name,module', [
    (TRANSFORMS, 'ViTPoseSetDatasetIndex', 'vitpose_mm.datasets.transforms'),
    (DATASETS, 'ViTPoseMultiDataset', 'vitpose_mm.datasets.multi_dataset'),
    (DATASETS, 'ViTPoseAPT36KDataset', 'vitpose_mm.datasets.apt36k'),
    (MODELS, 'ViTPosePlusEstimator',
     'vitpose_mm.models.pose_estimators.vitpose_plus'),
])
def test_name_resolves_to_our_class(registry, name, module):
    assert registry.get(name) is getattr(importlib.import_module(module),
                                         name)


def test_transform_stamps_the_index():
    transform = TRANSFORMS.build(
        dict(type='ViTPoseSetDatasetIndex', dataset_index=5))
    assert transform(dict(img_path='a.jpg'))['dataset_index'] == 5
    # Stamping twice with the same index is harmless.
    assert transform(dict(dataset_index=5))['dataset_index'] == 5
    with pytest.raises(ValueError, match='already has dataset_index=2'):
        transform(dict(img_path='a.jpg', dataset_index=2))


@pytest.mark.parametrize('value', [-1, 1.0, '0', True, None])
def test_transform_rejects_bad_index(value):
    with pytest.raises(ValueError, match=f'got {value!r}'):
        TRANSFORMS.build(dict(type='ViTPoseSetDatasetIndex',
                              dataset_index=value))


def test_apt36k_metainfo_is_ap10k_under_its_own_name():
    apt = parse_pose_metainfo(
        copy.deepcopy(DATASETS.get('ViTPoseAPT36KDataset').METAINFO))
    ap10k = parse_pose_metainfo(
        copy.deepcopy(DATASETS.get('AP10KDataset').METAINFO))
    assert apt['dataset_name'] == 'apt36k' and apt['num_keypoints'] == 17
    assert apt['keypoint_id2name'] == ap10k['keypoint_id2name']
    assert apt['flip_indices'] == ap10k['flip_indices']
    assert apt['skeleton_links'] == ap10k['skeleton_links']
    np.testing.assert_array_equal(apt['sigmas'], ap10k['sigmas'])
    assert Path(DATASETS.get('ViTPoseAPT36KDataset').METAINFO[
        'from_file']).is_file()


def test_samples_keep_their_dataset_index_and_keypoints(train_set):
    assert train_set.lens == [people for *_, people in EXPECTED]
    start = 0
    for index, name, k, people in EXPECTED:
        for i in (start, start + people - 1):
            data = train_set[i]['data_samples']
            assert data.metainfo['dataset_index'] == index
            assert data.metainfo['dataset_name'] == name
            assert len(data.metainfo['flip_indices']) == k
            assert data.gt_instances.keypoints.shape == (1, k, 2)
            assert data.gt_fields.heatmaps.shape == (k, 64, 48)
            assert data.gt_instance_labels.keypoint_weights.shape == (1, k)
        start += people


def test_one_batch_of_six_datasets_trains_without_padding(
        tiny_cfg, train_set):
    starts = np.cumsum([0] + train_set.lens[:-1])
    batch = pseudo_collate([train_set[int(i)] for i in starts])
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg.model).train()
    data = model.data_preprocessor(batch, training=True)
    losses = model.loss(**data)
    names = ['coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'wholebody']
    assert {k for k in losses if k.startswith('loss')} == {
        f'loss_kpt_{n}' for n in names}
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total) and total > 0
    total.backward()
    for name in names:
        assert model.heads[name].final_layer.weight.grad.abs().sum() > 0


def _predict_ground_truth(samples, shift: float):
    """Packed samples with ground truth + ``shift`` px as the prediction."""
    out = []
    for sample in samples:
        sample = copy.deepcopy(sample)
        gt = sample.gt_instances
        keypoints = np.asarray(gt.keypoints) + shift
        sample.pred_instances = InstanceData(
            keypoints=keypoints, keypoint_scores=np.ones(keypoints.shape[:2]),
            bboxes=gt.bboxes, bbox_scores=np.ones(len(keypoints)))
        out.append(sample)
    return out


@pytest.mark.parametrize('shifted', ['aic', 'coco_wholebody'])
def test_each_dataset_is_scored_by_its_own_metric(tiny_cfg, shifted):
    """Ground truth as predictions scores 1 on every dataset but the one
    whose predictions are moved 40 px."""
    val_set = DATASETS.build(tiny_cfg.val_dataloader.dataset)
    evaluator = EVALUATORS.build(tiny_cfg.val_evaluator)
    evaluator.dataset_meta = val_set.metainfo
    items = [val_set[i] for i in range(len(val_set))]
    for start in range(0, len(items), 16):
        chunk = pseudo_collate(items[start:start + 16])
        preds = [
            _predict_ground_truth(
                [s], 40. if s.metainfo['dataset_name'] == shifted else 0.)[0]
            for s in chunk['data_samples']]
        evaluator.process(preds, chunk)
    results = evaluator.evaluate(len(val_set))
    keys = dict(coco='coco/AP', aic='aic/AP', mpii='mpii/PCK',
                ap10k='ap10k/AP', apt36k='apt36k/AP',
                coco_wholebody='wholebody/AP')
    for name, key in keys.items():
        if name == shifted:
            assert results[key] < 0.2, key
        else:
            assert results[key] == pytest.approx(1.0), key
