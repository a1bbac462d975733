"""The hand 2D keypoint configs (InterHand2.6M, OneHand10K) train one epoch
and are evaluated with mmpose's PCK / AUC / EPE on the shared tiny sets, at
a tiny model size (embed 32, depth 2, 64x48 or 64x64 input). The
predictions mmpose's ``DumpResults`` wrote are checked against ground truth
the test reads from the raw annotation files itself."""
import json
import pickle

import numpy as np
import pytest
from mmengine.runner import Runner

from tests.conftest import REPO, require_shared
from tests.tiny import shrink_topdown
from vitpose_mm.tools.data_root import load_run_config

HAND = REPO / 'configs/hand_2d_keypoint/topdown_heatmap'


def _interhand_truth(data):
    """(keypoints (N, 21, 2), valid (N, 21), tight xyxy boxes (N, 4)) of
    every hand with more than 11 valid joints: world -> camera -> pixels,
    done here from the InterHand2.6M files (the camera model of its README)."""
    files = {k: json.loads((data / f'test_interhand2.6m_{k}.json')
                           .read_text())
             for k in ('data', 'camera', 'joint_3d')}
    hands, valids, boxes = [], [], []
    for image, ann in zip(files['data']['images'],
                          files['data']['annotations']):
        cam = files['camera'][str(image['capture'])]
        name = image['camera']
        world = np.asarray(files['joint_3d'][str(image['capture'])][str(
            image['frame_idx'])]['world_coord'])  # (42, 3)
        xyz = (np.asarray(cam['camrot'][name]) @ (
            world - np.asarray(cam['campos'][name])).T).T
        pixels = xyz[:, :2] / xyz[:, 2:] * cam['focal'][name] + \
            cam['princpt'][name]
        valid = np.asarray(ann['joint_valid']).reshape(2, 21)
        for hand in range(2):
            if valid[hand, 20] and valid[hand].sum() > 11:
                points = pixels[hand * 21:(hand + 1) * 21]
                seen = points[valid[hand] > 0]
                hands.append(points)
                valids.append(valid[hand] > 0)
                boxes.append(np.r_[seen.min(0), seen.max(0)])
    return np.asarray(hands), np.asarray(valids), np.asarray(boxes)


def _onehand_truth(data):
    """(keypoints (N, 21, 2), visible (N, 21), xyxy boxes (N, 4)) from the
    COCO-style file."""
    anns = json.loads((data / 'test_onehand10k.json').read_text())[
        'annotations']
    points = np.asarray([a['keypoints'] for a in anns]).reshape(-1, 21, 3)
    boxes = np.asarray([a['bbox'] for a in anns], dtype=float)
    boxes[:, 2:] += boxes[:, :2]
    return points[..., :2], points[..., 2] > 0, boxes


CASES = {
    'interhand2d/vitpose-mm_td-hm_ViTPose-base_8xb64-60e_interhand2d-'
    '256x192.py': ('interhand2.6m', dict(
        ann_file='test_interhand2.6m_data.json',
        camera_param_file='test_interhand2.6m_camera.json',
        joint_file='test_interhand2.6m_joint_3d.json'), _interhand_truth,
        6, (48, 64)),
    'onehand10k/vitpose-mm_td-hm_ViTPose-base_8xb64-210e_onehand10k-'
    '256x256.py': ('onehand10k', dict(ann_file='test_onehand10k.json'),
                   _onehand_truth, 4, (64, 64)),
}


def _tiny_run(name, tmp_path):
    """The config shrunk to the tiny size on its shared set, trained one
    epoch and tested; returns (metrics, dumped data samples, truth)."""
    folder, files, truth, _, size = CASES[name]
    data = require_shared(f'data/{folder}')
    cfg = load_run_config(str(HAND / name))
    shrink_topdown(cfg, data, size, dict.fromkeys(
        ('train_dataloader', 'test_dataloader'), files), batch_size=4)
    dump = tmp_path / 'predictions.pkl'
    cfg.test_evaluator = list(cfg.test_evaluator) + [
        dict(type='DumpResults', out_file_path=str(dump))]
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    with open(dump, 'rb') as f:  # the file this test's own run wrote
        samples = pickle.load(f)
    return metrics, samples, truth(data)


@pytest.mark.parametrize('name', sorted(CASES))
def test_hand_config_trains_and_is_scored_on_every_hand(name, tmp_path):
    metrics, samples, (gt, valid, boxes) = _tiny_run(name, tmp_path)
    assert (tmp_path / 'epoch_1.pth').is_file()
    assert {'PCK', 'AUC', 'EPE'} <= set(metrics), sorted(metrics)
    # One scored instance per hand (6 on InterHand2.6M's 4 images: two
    # interacting pairs and two single hands), 21 keypoints each.
    hands = CASES[name][3]
    assert len(samples) == len(gt) == hands
    pred = np.concatenate(
        [s['pred_instances']['keypoints'] for s in samples])
    assert pred.shape == (hands, 21, 2)
    # mmpose's EPE (pixels) and PCK@0.2 of max(box w, h) equal what the
    # dumped predictions give against the ground truth read here, so the
    # dataset's keypoints, visibility and boxes (the tight hand box on
    # InterHand2.6M, the original's PCK normaliser) are the ones being scored.
    assert valid.sum() > hands * 11
    dist = np.linalg.norm(pred - gt, axis=-1)  # (N, 21)
    assert metrics['EPE'] == pytest.approx(dist[valid].mean(), rel=1e-4)
    size = (boxes[:, 2:] - boxes[:, :2]).max(1, keepdims=True)
    # mmpose's PCK is the mean over keypoints of each one's accuracy over
    # the hands where it is visible.
    within = np.where(valid, dist / size < 0.2, 0).sum(0)
    seen = valid.sum(0)
    pck = (within[seen > 0] / seen[seen > 0]).mean()
    assert metrics['PCK'] == pytest.approx(pck, abs=1e-6)


@pytest.mark.parametrize('name', sorted(CASES))
def test_hand_config_with_another_keypoint_count_is_refused(name):
    # The stock datasets state no metainfo in the config: their class's
    # 21 keypoints are checked against the head before a run starts.
    from vitpose_mm.tools.check_metainfo import check_metainfo
    cfg = load_run_config(str(HAND / name))
    check_metainfo(cfg, ('train_dataloader', 'val_dataloader'))
    cfg.model.head.out_channels = 17
    with pytest.raises(SystemExit, match=r'defines 21 keypoints but the '
                       r'model predicts 17 .*out_channels=21$'):
        check_metainfo(cfg, ('train_dataloader', ))
