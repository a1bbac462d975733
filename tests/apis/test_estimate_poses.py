"""``estimate_poses`` (top-down, whole image): one keypoint set per box,
the detector's scores kept, and bad boxes refused in one line."""
import numpy as np
import pytest

from tests.deploy.helpers import tiny_config, tiny_model
from vitpose_mm.apis import estimate_poses


@pytest.fixture(scope='module')
def model():
    return tiny_model(tiny_config('simple'))


def test_one_prediction_per_box_with_its_score(model):
    img = np.random.default_rng(0).integers(0, 255, (120, 90, 3), np.uint8)
    boxes = np.array([[5, 5, 60, 100, 0.9], [20, 10, 80, 110, 0.4]],
                     np.float32)
    out = estimate_poses(model, img, boxes, batch_size=1)
    assert out.pred_instances.keypoints.shape == (2, 17, 2)
    np.testing.assert_array_equal(out.pred_instances.bbox_scores,
                                  boxes[:, 4])


@pytest.mark.parametrize('boxes,match', [
    (np.zeros((2, 4), np.float32), r'\(N, 5\).*\(2, 4\)'),
    (np.zeros(5, np.float32), r'\(N, 5\).*\(5,\)'),
    (np.zeros((0, 5), np.float32), 'at least one box'),
])
def test_bad_boxes_are_refused_in_one_line(model, boxes, match):
    img = np.zeros((64, 48, 3), np.uint8)
    with pytest.raises(ValueError, match=match):
        estimate_poses(model, img, boxes)
