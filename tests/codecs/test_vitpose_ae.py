"""The AE codec of bottom-up ViTPose: encode, pack, decode round trip."""
import json

import numpy as np
import pytest
import torch
from mmpose.codecs import AssociativeEmbedding
from mmpose.registry import KEYPOINT_CODECS

from vitpose_mm.codecs import ViTPoseAssociativeEmbedding

CODEC = dict(type='ViTPoseAssociativeEmbedding', input_size=(512, 512),
             heatmap_size=(128, 128), sigma=2, decode_topk=30,
             decode_keypoint_order=[0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9,
                                    10, 13, 14, 15, 16])


def image_people(root, file_name):
    """(N, 17, 2) keypoints and (N, 17) visibility of one tiny COCO image,
    people with keypoints only."""
    data = json.loads((root / 'test_coco.json').read_text())
    image = next(i for i in data['images'] if i['file_name'] == file_name)
    anns = [a for a in data['annotations']
            if a['image_id'] == image['id'] and a['num_keypoints'] > 0]
    kpts = np.array([a['keypoints'] for a in anns],
                    dtype=np.float32).reshape(-1, 17, 3)
    return kpts[..., :2], (kpts[..., 2] > 0).astype(np.float32)


def test_registered_and_indices_match_mmpose_loop():
    codec = KEYPOINT_CODECS.build(CODEC)
    assert type(codec) is ViTPoseAssociativeEmbedding
    ref = AssociativeEmbedding(**{k: v for k, v in CODEC.items()
                                  if k != 'type'})
    rng = np.random.default_rng(0)
    # Some keypoints outside the image, some invisible.
    kpts = rng.uniform(-40, 560, size=(6, 17, 2)).astype(np.float32)
    vis = (rng.uniform(size=(6, 17)) > 0.3).astype(np.float32)
    ours, theirs = codec.encode(kpts, vis), ref.encode(kpts, vis)
    np.testing.assert_array_equal(ours['keypoint_indices'],
                                  theirs['keypoint_indices'])
    np.testing.assert_array_equal(ours['heatmaps'], theirs['heatmaps'])
    assert codec.label_mapping_table['keypoint_indices'] == 'keypoint_indices'


def test_bad_keypoint_shapes_are_refused():
    codec = KEYPOINT_CODECS.build(CODEC)
    with pytest.raises(ValueError, match=r'keypoints must be \(N, K, 2\)'):
        codec.encode(np.zeros((17, 2), np.float32))
    with pytest.raises(ValueError, match='keypoints_visible'):
        codec.encode(np.zeros((2, 17, 2), np.float32), np.ones((3, 17)))


def test_round_trip_recovers_the_people_of_a_real_image(coco_tiny):
    kpts, vis = image_people(coco_tiny, '000000197388.jpg')  # 640x392
    scale = 512 / 640
    kpts = kpts * scale
    codec = KEYPOINT_CODECS.build(CODEC)
    enc = codec.encode(kpts, vis)
    heatmaps = torch.from_numpy(enc['heatmaps'])  # (K, 128, 128)
    # Perfect tags: person n has tag 3n at each of its keypoint positions.
    index = enc['keypoint_indices']
    tags = torch.zeros(17, 128 * 128)
    for n in range(len(kpts)):
        visible = index[n, :, 1] > 0
        tags[np.flatnonzero(visible), index[n, visible, 0]] = 3.0 * n
    tags = tags.reshape(17, 128, 128)
    preds, scores, _ = codec.batch_decode(heatmaps[None], tags[None])
    preds, scores = preds[0], scores[0]
    assert preds.shape == (len(kpts), 17, 2)
    # Each decoded person is one annotated person: their visible keypoints
    # within 2 input pixels (half a heatmap pixel).
    matched = set()
    for pred in preds:
        err = np.array([np.abs(pred - gt)[v > 0].max()
                        for gt, v in zip(kpts, vis)])
        n = int(err.argmin())
        assert err[n] < 2.0, err
        matched.add(n)
    assert matched == set(range(len(kpts)))


def test_pipeline_packs_keypoint_indices_for_the_head(coco_tiny):
    from mmpose.datasets import CocoDataset
    pipeline = [
        dict(type='LoadImage'),
        dict(type='BottomupRandomAffine', input_size=(512, 512)),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='GenerateTarget', encoder=CODEC),
        dict(type='ViTPoseBottomupGetHeatmapMask'),
        dict(type='PackPoseInputs'),
    ]
    dataset = CocoDataset(data_root=str(coco_tiny), ann_file='test_coco.json',
                          data_prefix=dict(img=''), data_mode='bottomup',
                          pipeline=pipeline)
    index = next(i for i in range(len(dataset)) if dataset.get_data_info(
        i)['img_path'].endswith('196141.jpg'))
    sample = dataset[index]['data_samples']
    labels = sample.gt_instance_labels
    # 5 people, 2 without keypoints among them: 5 rows of indices.
    assert labels.keypoint_indices.shape == (5, 17, 2)
    assert labels.keypoint_weights.shape == (5, 17)
    assert sample.gt_fields.heatmaps.shape == (17, 128, 128)
    mask = sample.gt_fields.heatmap_mask
    # People without keypoints are masked out of the heatmap loss.
    assert mask.shape[-2:] == (128, 128) and not bool(mask.all())
