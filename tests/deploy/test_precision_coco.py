"""bf16 / fp16 inference on real COCO crops: keypoints within half a pixel
of fp32, and fast fp32 equal to eager fp32 (needs ../shared/data/coco).

The model is a seeded random tiny ViTPose (simple decoder, 256x192) whose
final conv is fitted to the crops' target heatmaps by ridge regression, so
that its heatmaps peak near the people's keypoints. Keypoints are compared
in crop (model-input) pixels, without flip test, on the keypoints whose
fp32 peak is unambiguous (:func:`peak_margin` >= 10%): a near-tie between
two peaks can flip under any rounding, which says nothing about precision.
"""
import numpy as np
import pytest
import torch

from tests.deploy.helpers import fitted_coco_model, peak_margin
from vitpose_mm.deploy import optimize_for_inference


@pytest.fixture(scope='module')
def setup():
    from tests.conftest import require_shared
    return fitted_coco_model(require_shared('data/coco'))


def decode(model, inputs):
    """(heatmaps (N, K, h, w), keypoints (N, K, 2) in crop pixels)."""
    with torch.no_grad():
        heatmaps = model(inputs, None, mode='tensor')
    keypoints, _ = model.head.decoder.batch_decode(heatmaps)
    return heatmaps, np.concatenate(keypoints)


def test_fitted_heatmaps_have_clear_peaks(setup):
    model, inputs, _ = setup
    heatmaps, _ = decode(model, inputs)
    # Most keypoints have one clear peak, as a trained model's do.
    assert (peak_margin(heatmaps) >= 0.1).float().mean() > 0.7


@pytest.mark.filterwarnings('ignore:This CPU has no native')
@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_half_precision_keypoints_within_half_a_pixel(setup, precision):
    model, inputs, _ = setup
    ref_maps, ref = decode(model, inputs)
    _, got = decode(optimize_for_inference(model, precision), inputs)
    clear = (peak_margin(ref_maps) >= 0.1).numpy()
    shift = np.linalg.norm(got - ref, axis=-1)
    assert shift[clear].max() < 0.5
    assert shift.max() > 0  # the mode did run in half precision


def test_fast_fp32_predictions_equal_eager(setup):
    model, inputs, samples = setup
    fast = optimize_for_inference(model)
    with torch.no_grad():
        ref = model.predict(inputs, [s.clone() for s in samples])
        got = fast.predict(inputs, [s.clone() for s in samples])
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-2)
        np.testing.assert_allclose(a.pred_instances.keypoint_scores,
                                   b.pred_instances.keypoint_scores,
                                   atol=1e-4)
