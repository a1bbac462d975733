"""Our model and transformers' ``VitPoseForPoseEstimation`` give the same
heatmaps once the weights are converted, in both directions, and the
original ViTPose fixtures reproduce through the hf layout."""
import pytest
import torch

from tests.checkpoint.helpers import (NUM_KEYPOINTS, TINY, build_pose_model,
                                      heatmaps, randomise_)
from tests.conftest import load_fixture
from vitpose_mm.checkpoint import check_fits, convert_state_dict

transformers = pytest.importorskip('transformers')

DECODERS = ('classic', 'simple')


def hf_model(decoder,
             img_size=TINY['img_size'],
             embed_dim=TINY['embed_dim'],
             depth=TINY['depth'],
             num_heads=TINY['num_heads'],
             num_keypoints=NUM_KEYPOINTS):
    """A transformers VitPose of the given sizes (eps 1e-6 as ViTPose)."""
    backbone = transformers.VitPoseBackboneConfig(
        image_size=list(img_size),
        patch_size=[16, 16],
        hidden_size=embed_dim,
        num_hidden_layers=depth,
        num_attention_heads=num_heads,
        mlp_ratio=4,
        qkv_bias=True,
        layer_norm_eps=1e-6,
        out_indices=[depth])
    config = transformers.VitPoseConfig(
        backbone_config=backbone,
        num_labels=num_keypoints,
        use_simple_decoder=decoder == 'simple')
    return transformers.VitPoseForPoseEstimation(config).eval()


@torch.no_grad()
def hf_heatmaps(model, x):
    return model(pixel_values=x).heatmaps


def batch():
    return torch.randn(
        2, 3, *TINY['img_size'], generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize('decoder', DECODERS)
def test_hf_to_ours(decoder):
    hf = randomise_(hf_model(decoder), seed=21)
    ours = build_pose_model(decoder)
    state = check_fits(ours, hf.state_dict())
    ours.load_state_dict(state, strict=True)
    x = batch()
    expected = hf_heatmaps(hf, x)
    assert expected.std() > 0.1  # not a trivial output
    torch.testing.assert_close(heatmaps(ours, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize('decoder', DECODERS)
def test_ours_to_hf(decoder):
    ours = randomise_(build_pose_model(decoder), seed=22)
    hf = hf_model(decoder)
    hf.load_state_dict(
        convert_state_dict(ours.state_dict(), to='hf'), strict=True)
    x = batch()
    expected = heatmaps(ours, x)
    assert expected.std() > 0.1
    torch.testing.assert_close(hf_heatmaps(hf, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize('decoder', DECODERS)
def test_original_fixture_in_transformers(decoder):
    """Original weights -> hf layout -> transformers reproduces the
    original's heatmaps."""
    fx = load_fixture(f'vit_{decoder}.pt')
    cfg = fx['config']['backbone']
    hf = hf_model(
        decoder,
        img_size=cfg['img_size'],
        embed_dim=cfg['embed_dim'],
        depth=cfg['depth'],
        num_heads=cfg['num_heads'],
        num_keypoints=17)
    hf.load_state_dict(
        convert_state_dict(fx['state_dict'], to='hf'), strict=True)
    torch.testing.assert_close(
        hf_heatmaps(hf, fx['input']), fx['output'], rtol=0, atol=1e-5)
