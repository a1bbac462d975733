"""ViTPose+ through the transformers layout: transformers' MoE
``VitPoseForPoseEstimation`` and our ``ViTPosePlusBackbone`` + head give the
same features and heatmaps for every dataset index once the weights are
converted, in both directions, and the original ``vit_moe`` fixture
reproduces in transformers."""
import pytest
import torch
from torch import nn

from tests.checkpoint.helpers import TINY, randomise_
from tests.checkpoint.test_moe_tools import NAMES, P, moe_model
from tests.conftest import load_fixture
from vitpose_mm.checkpoint import (check_fits, convert_state_dict,
                                   detect_layout, expert_config)

transformers = pytest.importorskip('transformers')

NUM_EXPERTS = len(NAMES)
INDEXES = ([0, 0], [1, 1], [2, 2], [2, 0])


def hf_backbone_config(num_experts=NUM_EXPERTS, part_features=P, **sizes):
    """transformers' ViTPose+ backbone config (eps 1e-6 as ViTPose)."""
    sizes = {
        **dict(
            image_size=list(TINY['img_size']),
            hidden_size=TINY['embed_dim'],
            num_hidden_layers=TINY['depth'],
            num_attention_heads=TINY['num_heads'],
            mlp_ratio=4),
        **sizes
    }
    return transformers.VitPoseBackboneConfig(
        patch_size=[16, 16],
        qkv_bias=True,
        layer_norm_eps=1e-6,
        num_experts=num_experts,
        part_features=part_features,
        out_indices=[sizes['num_hidden_layers']],
        **sizes)


def hf_pose_model(num_keypoints=5):
    """transformers ViTPose+ with the classic decoder."""
    config = transformers.VitPoseConfig(
        backbone_config=hf_backbone_config(),
        num_labels=num_keypoints,
        use_simple_decoder=False)
    return transformers.VitPoseForPoseEstimation(config).eval()


def our_pose_model(num_keypoints=5):
    """Our ViTPose+ backbone and one head, as ``backbone.*`` / ``head.*``
    (transformers' layout of a ViTPose+ model)."""
    full = moe_model(keypoints=(num_keypoints, ) * NUM_EXPERTS)
    model = nn.Module()
    model.backbone, model.head = full.backbone, full.heads[NAMES[0]]
    return model.eval()


@torch.no_grad()
def hf_outputs(hf, x, index):
    """(features (B, C, h, w), heatmaps) of transformers' model."""
    tokens = hf.backbone(x, dataset_index=index).feature_maps[-1]
    B, N, C = tokens.shape  # noqa: N806
    h, w = (s // 16 for s in x.shape[2:])
    feats = tokens.transpose(1, 2).reshape(B, C, h, w)
    return feats, hf(pixel_values=x, dataset_index=index).heatmaps


@torch.no_grad()
def our_outputs(model, x, index, head=None):
    feats = model.backbone(x, index)
    return feats[0], (head or model.head)(feats)


def batch():
    return torch.randn(
        2, 3, *TINY['img_size'], generator=torch.Generator().manual_seed(4))


def assert_same_outputs(got, expected):
    for a, b in zip(got, expected):
        assert b.std() > 0.1  # not a trivial output
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_hf_to_ours():
    hf = randomise_(hf_pose_model(), seed=31)
    state = hf.state_dict()
    assert detect_layout(state) == 'hf'
    ours = our_pose_model()
    converted = check_fits(ours, state)
    assert expert_config(converted) == dict(
        num_expert=NUM_EXPERTS, part_features=P)
    ours.load_state_dict(converted, strict=True)
    x = batch()
    for index in INDEXES:
        index = torch.tensor(index)
        assert_same_outputs(
            our_outputs(ours, x, index), hf_outputs(hf, x, index))


def test_ours_to_hf():
    ours = randomise_(our_pose_model(), seed=32)
    hf = hf_pose_model()
    hf.load_state_dict(
        convert_state_dict(ours.state_dict(), to='hf'), strict=True)
    x = batch()
    for index in INDEXES:
        index = torch.tensor(index)
        assert_same_outputs(
            hf_outputs(hf, x, index), our_outputs(ours, x, index))


@pytest.mark.parametrize('dataset', ['mpii', 2])
def test_per_dataset_heads_to_hf_keep_the_chosen_head(dataset):
    """One head per dataset -> transformers' one head: the chosen one,
    with every expert, run with that dataset's index."""
    ours = moe_model(keypoints=(5, 5, 5))
    state = ours.state_dict()
    hf_state = convert_state_dict(
        state, to='hf', dataset=dataset, head_names=NAMES)
    hf = hf_pose_model()
    hf.load_state_dict(hf_state, strict=True)
    d = dataset if isinstance(dataset, int) else NAMES.index(dataset)
    index = torch.full((2, ), d)
    x = batch()
    assert_same_outputs(
        hf_outputs(hf, x, index),
        our_outputs(ours, x, index, head=ours.heads[NAMES[d]]))
    with pytest.raises(ValueError, match='holds one head.*dataset='):
        convert_state_dict(state, to='hf')


def test_vit_moe_fixture_in_transformers():
    """Original ViTMoE weights -> hf layout -> transformers' VitPoseBackbone
    reproduces the original's features for the fixture's indexes."""
    fx = load_fixture('vit_moe.pt')
    cfg = fx['config']['backbone']
    hf_state = convert_state_dict(fx['state_dict'], to='hf')
    assert all(k.startswith('backbone.') for k in hf_state)
    config = hf_backbone_config(
        num_experts=cfg['num_expert'],
        part_features=cfg['part_features'],
        image_size=list(cfg['img_size']),
        hidden_size=cfg['embed_dim'],
        num_hidden_layers=cfg['depth'],
        num_attention_heads=cfg['num_heads'],
        mlp_ratio=cfg['mlp_ratio'])
    hf = transformers.VitPoseBackbone(config).eval()
    hf.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in hf_state.items()
    },
                       strict=True)
    with torch.no_grad():
        tokens = hf(fx['input'], dataset_index=fx['dataset_idx'])
    tokens = tokens.feature_maps[-1]
    expected = fx['output']
    B, C, h, w = expected.shape  # noqa: N806
    feats = tokens.transpose(1, 2).reshape(B, C, h, w)
    assert len(set(fx['dataset_idx'].tolist())) > 1
    torch.testing.assert_close(feats, expected, rtol=0, atol=1e-5)
