"""ViTPoseUDPHeatmap against the original ViTPose (fixtures) and mmpose."""
import numpy as np
import pytest
import torch
from mmpose.codecs import UDPHeatmap
from mmpose.datasets.transforms import TopdownAffine
from mmpose.registry import KEYPOINT_CODECS

from tests.conftest import load_fixture
from vitpose_mm.codecs import ViTPoseUDPHeatmap, dark_udp_decode

INPUT_WH, HEATMAP_WH = (192, 256), (48, 64)


def make_codec(**kwargs):
    return ViTPoseUDPHeatmap(
        input_size=INPUT_WH, heatmap_size=HEATMAP_WH, **kwargs)


def to_image(keypoints_hm, center, scale_200, heatmap_wh=HEATMAP_WH):
    """The original transform_preds(use_udp=True), written out here."""
    W, H = heatmap_wh
    size = scale_200[:, None] * 200.
    return (keypoints_hm * size / np.array([W - 1, H - 1]) + center[:, None]
            - size / 2)


def test_registered_name_resolves_to_our_class():
    codec = KEYPOINT_CODECS.build(
        dict(type='ViTPoseUDPHeatmap', input_size=INPUT_WH,
             heatmap_size=HEATMAP_WH))
    assert type(codec) is ViTPoseUDPHeatmap


@pytest.mark.parametrize('case', range(4))
def test_decode_matches_original_exactly(case):
    fx = load_fixture('udp_decode.pt')
    heatmaps = fx['input']['heatmaps'][case].numpy()
    keypoints, scores = dark_udp_decode(heatmaps)
    inter = fx['intermediates']
    # Argmax, maxvals and the DARK-UDP step are bit-exact, special
    # heatmaps (ties, clipping, corners, all-zero, negative) included.
    np.testing.assert_array_equal(
        scores, inter['argmax_maxvals'][case].numpy()[..., 0])
    np.testing.assert_array_equal(keypoints,
                                  inter['dark_udp_preds'][case].numpy())
    center = fx['input']['center'][case].numpy()
    scale = fx['input']['scale'][case].numpy()
    preds = to_image(keypoints, center, scale)
    np.testing.assert_allclose(
        preds, fx['output']['preds'][case].numpy(), rtol=0, atol=1e-3)


def test_codec_batch_decode_maps_to_input_space():
    fx = load_fixture('udp_decode.pt')
    heatmaps = fx['input']['heatmaps'][0]
    codec = make_codec()
    keypoints, scores = codec.batch_decode(heatmaps)
    assert len(keypoints) == heatmaps.shape[0]
    ref = fx['intermediates']['dark_udp_preds'][0].numpy()
    W, H = HEATMAP_WH
    expected = ref / np.array([W - 1, H - 1]) * np.array(INPUT_WH)
    for n in range(heatmaps.shape[0]):
        assert keypoints[n].shape == (1, 17, 2)
        np.testing.assert_allclose(keypoints[n][0], expected[n], atol=1e-4)
        np.testing.assert_array_equal(
            scores[n][0], fx['output']['maxvals'][0][n, :, 0].numpy())


def test_single_decode_equals_batch_decode_for_valid_peaks():
    rng = np.random.RandomState(0)
    heatmaps = rng.rand(3, 5, 64, 48).astype(np.float32) + 0.01
    codec = make_codec()
    batch_kpts, batch_scores = codec.batch_decode(heatmaps)
    for n in range(3):
        kpts, scores = codec.decode(heatmaps[n])
        np.testing.assert_array_equal(kpts, batch_kpts[n])
        np.testing.assert_array_equal(scores, batch_scores[n])


def test_decode_differs_from_mmpose_udp_heatmap():
    """Why we keep our own decode: mmpose re-normalises the blurred map."""
    fx = load_fixture('udp_decode.pt')
    heatmaps = fx['input']['heatmaps'][2][0].numpy()
    ours, _ = make_codec().decode(heatmaps)
    mmpose_kpts, _ = UDPHeatmap(INPUT_WH, HEATMAP_WH).decode(heatmaps)
    assert np.abs(ours - mmpose_kpts).max() > 1e-3


@pytest.mark.parametrize('sample', range(4))
def test_encode_matches_original(sample):
    fx = load_fixture('udp_encode.pt')
    joints = fx['input']['joints_3d'][sample].numpy()
    visible = fx['input']['joints_3d_visible'][sample].numpy()
    encoded = make_codec().encode(joints[None, :, :2], visible[None, :, 0])
    # float64 (numpy 2) against the original's float32 Gaussian.
    np.testing.assert_allclose(
        encoded['heatmaps'], fx['output']['target'][sample].numpy(),
        rtol=0, atol=5e-6)
    np.testing.assert_array_equal(
        encoded['keypoint_weights'][0],
        fx['output']['target_weight'][sample].numpy()[:, 0])


def test_mmpose_udp_affine_matches_original_warp():
    """mmpose's TopdownAffine(use_udp=True) is the original's warp.

    The matrix is computed partly in float32 (as the original under numpy
    2), so a few pixels on sharp edges round to another 1/32-pixel bin.
    """
    fx = load_fixture('warp.pt')
    affine = TopdownAffine(input_size=INPUT_WH, use_udp=True)
    for t in range(fx['input']['center'].shape[0]):
        scale = fx['input']['scale'][t].numpy() * 200
        results = dict(
            img=fx['input']['img'].numpy().copy(),
            bbox_center=fx['input']['center'][t].numpy()[None],
            bbox_scale=scale[None],
            bbox_rotation=np.array([float(fx['input']['rotation'][t])]),
            keypoints=fx['input']['joints_3d'][t].numpy()[None, :, :2],
            keypoints_visible=fx['input']['joints_3d_visible'][t].numpy()[
                None, :, 0])
        out = affine(results)
        np.testing.assert_allclose(
            out['transformed_keypoints'][0],
            fx['output']['joints_3d'][t].numpy()[:, :2], rtol=0, atol=1e-4)
        diff = np.abs(out['img'].astype(int)
                      - fx['output']['img'][t].numpy().astype(int))
        assert (diff > 1).mean() < 1e-3, f'triple {t}: {(diff > 1).mean()}'


def test_bad_heatmaps_raise():
    with pytest.raises(ValueError, match=r'\(B, K, H, W\)'):
        dark_udp_decode(np.zeros((17, 64, 48), np.float32))
    with pytest.raises(ValueError, match='odd'):
        dark_udp_decode(np.zeros((1, 17, 64, 48), np.float32), 10)


def test_torch_input_is_accepted():
    heatmaps = torch.rand(2, 17, 64, 48)
    keypoints, scores = make_codec().batch_decode(heatmaps)
    ref, ref_scores = make_codec().batch_decode(heatmaps.numpy())
    np.testing.assert_array_equal(keypoints[1], ref[1])
    np.testing.assert_array_equal(scores[1], ref_scores[1])
