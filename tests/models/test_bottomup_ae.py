"""Bottom-up ViTPose with associative embedding: tag loss, head, training."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpose.models.losses import AssociativeEmbeddingLoss
from mmpose.registry import MODELS

from tests.conftest import REPO

TINY_CONFIG = (REPO / 'configs/body_2d_keypoint/associative_embedding/'
               'coco_tiny/vitpose-mm_ae_ViTPose-tiny_1xb4-600e_coco-tiny-'
               '384x384.py')
K = 17


def indices(people, visible=None):
    """(N, K, 2) ``[position, visible]`` with person n's keypoint k at
    position ``people[n][k]``."""
    pos = torch.as_tensor(people, dtype=torch.long)
    vis = torch.ones_like(pos) if visible is None else torch.as_tensor(
        visible, dtype=torch.long)
    return torch.stack([pos, vis], dim=-1)


def tag_maps(B, L, H, W, values):
    """(B, L*K, H, W) tags with ``values[(b, l, k, pos)] = v``."""
    tags = torch.zeros(B, L, K, H * W)
    for (b, l, k, pos), v in values.items():
        tags[b, l, k, pos] = v
    return tags.reshape(B, L * K, H, W)


def perfectly_grouped(B=2, L=1, people=(3, 1)):
    """Each person one tag, tags of people 20 apart."""
    values, inds = {}, []
    for b in range(B):
        pos = [[(n * K + k) * 3 for k in range(K)] for n in range(people[b])]
        for n, row in enumerate(pos):
            for k, p in enumerate(row):
                for l in range(L):
                    values[(b, l, k, p)] = 20.0 * n + l
        inds.append(indices(pos))
    return tag_maps(B, L, 16, 16, values), inds


@pytest.mark.parametrize('L', [1, 2])
def test_tag_loss_is_zero_for_perfectly_grouped_tags(L):
    loss = MODELS.build(dict(type='ViTPoseAELoss'))
    tags, inds = perfectly_grouped(L=L)
    pull, push = loss(tags, inds)
    assert pull.item() == 0.0
    assert push.item() < 1e-30


def test_tag_loss_is_positive_for_split_or_merged_people():
    loss = MODELS.build(dict(type='ViTPoseAELoss'))
    tags, inds = perfectly_grouped()
    split = tags.clone().reshape(2, K, -1)
    split[0, 5, inds[0][0, 5, 0]] += 1.0  # one keypoint off its person
    pull, _ = loss(split.reshape(tags.shape), inds)
    assert pull.item() > 0
    merged = tags.clone().reshape(2, K, -1)
    merged[0, :, inds[0][1, :, 0]] = 0.0  # person 1 gets person 0's tag
    merged = merged.reshape(tags.shape)
    _, push = loss(merged, inds)
    assert push.item() == pytest.approx(0.5 * 2 / (3 * 2) / 2, rel=1e-5)


def test_tag_loss_matches_mmpose_without_its_diagonal_term():
    torch.manual_seed(0)
    tags = torch.randn(1, K, 16, 16)
    inds = [indices(torch.randint(0, 256, (4, K)),
                    torch.rand(4, K) > 0.3)]
    ours = MODELS.build(dict(type='ViTPoseAELoss', push_loss_factor=1.0))
    pull, push = ours(tags, inds)
    ref_pull, ref_push = AssociativeEmbeddingLoss(push_loss_factor=1.0)(
        tags, inds)
    torch.testing.assert_close(pull, ref_pull)
    # mmpose adds exp(0) = 1 for each of the N people (i == j).
    N = 4
    torch.testing.assert_close(push, ref_push - N / (N * (N - 1)))


def test_tag_loss_handles_images_without_people():
    loss = MODELS.build(dict(type='ViTPoseAELoss'))
    tags = torch.randn(2, K, 8, 8, requires_grad=True)
    empty = torch.zeros(0, K, 2, dtype=torch.long)
    pull, push = loss(tags, [empty, empty])
    (pull + push).backward()
    assert pull.item() == 0 and push.item() == 0
    with pytest.raises(ValueError, match='1 keypoint_indices for a batch'):
        loss(tags, [empty])


def tiny_cfg(coco_tiny):
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.model.backbone.update(embed_dim=32, depth=2, num_heads=2)
    cfg.model.head.update(in_channels=32, deconv_out_channels=(16, 16))
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = str(coco_tiny)
    return cfg


def test_batch_of_one_and_five_people_trains(coco_tiny):
    from mmpose.registry import DATASETS
    cfg = tiny_cfg(coco_tiny)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    by_name = {dataset.get_data_info(i)['img_path'].rsplit('/', 1)[-1]: i
               for i in range(len(dataset))}
    batch = pseudo_collate([dataset[by_name['000000000785.jpg']],
                            dataset[by_name['000000197388.jpg']]])
    people = [len(s.gt_instance_labels.keypoint_indices)
              for s in batch['data_samples']]
    assert people == [1, 5]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'loss_pull', 'loss_push'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    for name in ('backbone.pos_embed', 'backbone.blocks.0.attn.qkv.weight',
                 'head.final_layer.weight'):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_prediction_without_boxes_and_flip_test(coco_tiny):
    from mmpose.registry import DATASETS
    cfg = tiny_cfg(coco_tiny)
    for step in cfg.val_dataloader.dataset.pipeline:
        if step['type'] == 'BottomupResize':  # keep the aspect ratio
            step['resize_mode'] = 'expand'
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    batch = pseudo_collate([dataset[0]])
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(batch), training=False)
        # Whole image, not the 384x384 of img_size: the grid is resized.
        assert data['inputs'].shape[-2:] != (384, 384)
        (out, ) = model(**data, mode='predict')
    pred = out.pred_instances
    n = len(pred.keypoints)
    assert pred.keypoints.shape == (n, K, 2)
    assert pred.keypoint_scores.shape == (n, K)
    assert pred.bbox_scores.shape == (n, )


def test_no_flip_prediction_is_in_image_pixels(coco_tiny):
    """An oracle head (the codec's targets of the annotated person) through
    the single-scale, no-flip path: the keypoints come back in image pixels
    (mmpose 1.3 returns them 4x too close to the origin there)."""
    import json

    import numpy as np
    from mmpose.registry import DATASETS, KEYPOINT_CODECS
    cfg = tiny_cfg(coco_tiny)
    cfg.model.test_cfg.flip_test = False
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    index = next(i for i in range(len(dataset)) if dataset.get_data_info(
        i)['img_path'].endswith('000000000785.jpg'))
    batch = pseudo_collate([dataset[index]])
    meta = batch['data_samples'][0].metainfo
    ann = json.loads((coco_tiny / 'test_coco.json').read_text())
    gt = np.array(next(a['keypoints'] for a in ann['annotations']
                       if a['image_id'] == 785), np.float32).reshape(17, 3)
    size, center, scale = (np.asarray(meta[k], np.float32) for k in
                           ('input_size', 'input_center', 'input_scale'))
    kpts = (gt[None, :, :2] - center + 0.5 * scale) / scale * size
    codec = KEYPOINT_CODECS.build(cfg.codec)
    heatmaps = torch.from_numpy(codec.encode(kpts)['heatmaps'])[None]
    tags = torch.zeros_like(heatmaps)
    model = MODELS.build(cfg.model).eval()
    model.head.forward = lambda feats: (heatmaps, tags)
    with torch.no_grad():
        (out, ) = model.test_step(batch)
    pred = out.pred_instances
    best = int(np.argmax(pred.bbox_scores))
    err = np.linalg.norm(pred.keypoints[best] - gt[:, :2], axis=1)
    # Within 1.5 heatmap pixels (6.7 image pixels each here): the targets
    # are on the heatmap grid. The bug puts them hundreds of pixels off.
    assert err.max() < 1.5 * 4 * scale[0] / size[0], err
