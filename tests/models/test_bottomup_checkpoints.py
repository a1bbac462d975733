"""Checkpoints and bottom-up ViTPose: shape checks naming the tensors, and
a top-down ViTPose checkpoint as the backbone of a bottom-up model."""
import pytest
import torch
from mmpose.registry import MODELS

from vitpose_mm.checkpoint import check_fits

BACKBONE = dict(type='ViTPoseBackbone', img_size=(128, 128), embed_dim=32,
                depth=2, num_heads=2, dynamic_img_size=True)


def bottomup(num_keypoints=17, tag_dim=1):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='BottomupPoseEstimator', backbone=BACKBONE,
        head=dict(type='ViTPoseAEHead', in_channels=32,
                  num_keypoints=num_keypoints, tag_dim=tag_dim,
                  deconv_out_channels=(16, 16))))


def test_a_matching_checkpoint_loads_strictly():
    model = bottomup()
    state = check_fits(model, bottomup().state_dict())
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize('other', [dict(tag_dim=2), dict(num_keypoints=14)])
def test_wrong_tag_dim_or_keypoint_count_is_refused_with_names(other):
    shape = {'tag_dim': 51, 'num_keypoints': 28}[next(iter(other))]
    with pytest.raises(ValueError, match=(
            r'head\.final_layer\.weight is \(%d, 16, 1, 1\) in the '
            r'checkpoint but \(34, 16, 1, 1\) in the model, whose head '
            r'predicts 17 keypoints with tag_dim=1' % shape)):
        check_fits(bottomup(), bottomup(**other).state_dict())


def test_top_down_checkpoint_initialises_the_bottom_up_backbone(tmp_path):
    torch.manual_seed(1)
    top_down = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(BACKBONE, img_size=(64, 48), dynamic_img_size=False),
        head=dict(type='HeatmapHead', in_channels=32, out_channels=17,
                  deconv_out_channels=(16, 16),
                  deconv_kernel_sizes=(4, 4))))
    path = tmp_path / 'top_down.pth'
    torch.save(top_down.state_dict(), path)
    model = MODELS.build(dict(BACKBONE, init_cfg=dict(
        type='Pretrained', checkpoint=str(path), pos_embed_grid=(4, 3))))
    model.init_weights()
    ours, theirs = model.state_dict(), top_down.backbone.state_dict()
    torch.testing.assert_close(ours['blocks.1.attn.qkv.weight'],
                               theirs['blocks.1.attn.qkv.weight'])
    assert ours['pos_embed'].shape == (1, 1 + 8 * 8, 32)
