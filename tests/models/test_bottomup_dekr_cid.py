"""mmpose's DEKR and CID heads on the ViTPose backbone (through the neck of
their configs): a real tiny COCO image trains and predicts."""
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

from tests.conftest import REPO
from vitpose_mm.tools.data_root import load_run_config

CONFIGS = {
    'DEKRHead': 'dekr/coco/vitpose-mm_dekr_ViTPose-base_8xb32-300e_coco-'
                '512x512.py',
    'CIDHead': 'cid/coco/vitpose-mm_cid_ViTPose-base_8xb32-300e_coco-'
               '512x512.py',
}


def shrink_input(cfg, size=128):
    """The config at ``size`` x ``size`` input (heatmaps a quarter): every
    codec of its pipelines and head, and the resize steps."""
    def visit(node):
        if isinstance(node, dict):
            if 'input_size' in node:
                node['input_size'] = (size, size)
            if 'heatmap_size' in node:
                node['heatmap_size'] = (size // 4, size // 4)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
    for key in ('model', 'train_dataloader', 'val_dataloader'):
        visit(cfg[key])
    cfg.model.backbone.img_size = (size, size)


@pytest.mark.parametrize('head', sorted(CONFIGS))
def test_head_trains_and_predicts_on_the_vit(head, coco_tiny):
    cfg = load_run_config(str(REPO / 'configs/body_2d_keypoint' / CONFIGS[head]))
    cfg.model.backbone.update(embed_dim=32, depth=2, num_heads=2,
                              drop_path_rate=0.)
    cfg.model.head.in_channels = 32
    shrink_input(cfg)
    for split in ('train', 'val'):
        cfg[f'{split}_dataloader'].dataset.update(
            data_root=str(coco_tiny), ann_file='test_coco.json',
            data_prefix=dict(img=''))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model.head).__name__ == head
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([train_set[0], train_set[1]])
    model.train()
    losses = model(**model.data_preprocessor(batch, training=True),
                   mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.pos_embed.grad.abs().sum() > 0

    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    model.eval()
    with torch.no_grad():
        (out, ) = model.test_step(pseudo_collate([val_set[0]]))
    pred = out.pred_instances
    assert pred.keypoints.shape[1:] == (17, 2)
    assert len(pred.keypoint_scores) == len(pred.keypoints)
