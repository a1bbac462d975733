"""projects/vitpose_runtime (numpy + OpenCV + onnxruntime) against the
full stack, on the 4 real tiny COCO images (needs ../shared).

- its DARK-UDP decode equals ``ViTPoseUDPHeatmap``'s bit for bit;
- its crops equal mmpose's ``GetBBoxCenterScale`` + ``TopdownAffine(
  use_udp=True)`` + data preprocessor;
- its YOLOX boxes agree with mmdet's (``vitpose_mm.tools.demo``'s
  detector) to 0.5 px;
- its keypoints agree with ``vitpose_mm.tools.demo --eager`` to 0.05 px.

The pose model is the coco_tiny config (ViTPose, 128x96, the main job's)
with seeded random weights whose final layer is fitted to the 14 people's
target heatmaps by ridge regression (``fit_final_layer``): its heatmaps
peak near the people's keypoints as a trained model's do, so decoded
keypoints are well defined and a 0.05 px tolerance means something.
"""
import json
import sys

import numpy as np
import pytest
import torch

from tests.conftest import REPO, require_shared
from tests.deploy.helpers import coco_crops, fit_final_layer

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

sys.path.insert(0, str(REPO / 'projects' / 'vitpose_runtime'))
from vitpose_runtime import PoseModel, YoloxDetector  # noqa: E402
from vitpose_runtime import dark_udp_decode, flip_back  # noqa: E402
from vitpose_runtime.cli import main as runtime_main  # noqa: E402
from vitpose_runtime.decode import heatmap_to_crop  # noqa: E402

TINY_CFG = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
            'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')
DET_CFG = 'mmdet::yolox/yolox_nano_8xb8-300e_coco.py'


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """(config file, checkpoint, .onnx file, eager model, (crops, their
    data samples))."""
    from mmengine.config import Config
    from mmpose.apis import init_model
    from mmpose.models.utils.tta import flip_heatmaps

    from vitpose_mm.tools.export_onnx import main as export
    root = require_shared('data/coco')
    folder = tmp_path_factory.mktemp('runtime')
    cfg = Config.fromfile(TINY_CFG)
    torch.manual_seed(0)
    model = init_model(cfg, None, device='cpu').eval()
    inputs, samples, targets = coco_crops(cfg, root)
    # Fitted on the crops and their mirror images, so that flip test
    # averages two maps that peak at the same place.
    flipped = flip_heatmaps(targets, flip_mode='heatmap',
                            flip_indices=model.dataset_meta['flip_indices'],
                            shift_heatmap=False)
    fit_final_layer(model, torch.cat([inputs, inputs.flip(-1)]),
                    torch.cat([targets, flipped]))
    cfg_file, ckpt = folder / 'tiny.py', folder / 'tiny.pth'
    cfg.dump(str(cfg_file))
    torch.save(model.state_dict(), ckpt)
    onnx_file = folder / 'tiny.onnx'
    export([str(cfg_file), str(ckpt), str(onnx_file)])
    return cfg_file, ckpt, onnx_file, model, (inputs, samples)


def test_decode_is_bit_exact(exported):
    from vitpose_mm.codecs.udp_heatmap import ViTPoseUDPHeatmap
    *_, model, (inputs, _) = exported
    with torch.no_grad():
        real = model(inputs, None, mode='tensor').numpy()
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((40, 17, 32, 24)).astype(np.float32)
    noise[3] = -np.abs(noise[3])  # maxima <= 0: the (-1, -1) branch
    codec = ViTPoseUDPHeatmap(input_size=(96, 128), heatmap_size=(24, 32))
    for maps in (real, noise, real[:1, :1]):
        ref_kpts, ref_scores = codec.batch_decode(maps)
        kpts, scores = dark_udp_decode(maps)
        kpts = heatmap_to_crop(kpts, (24, 32), (96, 128))
        assert np.array_equal(np.concatenate(ref_kpts), kpts)
        assert np.array_equal(np.concatenate(ref_scores), scores)


def test_flip_back_equals_mmpose(exported):
    from mmpose.models.utils.tta import flip_heatmaps
    maps = np.random.default_rng(1).standard_normal((2, 17, 8, 6))
    maps = maps.astype(np.float32)
    flip = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    for shift in (False, True):
        ref = flip_heatmaps(torch.from_numpy(maps), flip_mode='heatmap',
                            flip_indices=flip, shift_heatmap=shift).numpy()
        assert np.array_equal(flip_back(maps, flip, shift), ref)


def test_crops_equal_mmpose_pipeline(exported):
    """The 14 people's boxes (as CocoDataset clips them) cropped by the
    runtime and by mmpose's test pipeline + data preprocessor: equal."""
    import cv2
    *_, onnx_file, _, (inputs, samples) = exported
    model = PoseModel(str(onnx_file))
    got = np.concatenate([
        model.crops(cv2.imread(s.metainfo['img_path']),
                    s.gt_instances.bboxes)[0] for s in samples])
    assert got.shape == tuple(inputs.shape)
    assert np.abs(got - inputs.numpy()).max() < 1e-5


def test_pose_matches_onnx_pose_model_with_flip(exported):
    """Heatmap flip test and decode on crops, as the main package's
    OnnxPoseModel (mmpose flip + ViTPoseUDPHeatmap) does: equal."""
    from vitpose_mm.deploy import OnnxPoseModel
    *_, onnx_file, _, (inputs, _) = exported
    ref = OnnxPoseModel(onnx_file)
    runtime = PoseModel(str(onnx_file), batch_size=5)
    assert runtime.flip_test and ref.test_cfg['flip_test']
    assert runtime.meta['keypoint_names'][:2] == ['nose', 'left_eye']
    want = ref.predict(inputs)
    got = runtime.predict_crops(inputs.numpy())
    assert np.abs(got[0] - want[0]).max() < 1e-3
    assert np.abs(got[1] - want[1]).max() < 1e-5


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """A folder linking the 4 real COCO images."""
    root = require_shared('data/coco')
    folder = tmp_path_factory.mktemp('images')
    for f in sorted(root.glob('*.jpg')):
        (folder / f.name).symlink_to(f)
    return folder


def _people(folder, name):
    return json.loads((folder / f'{name}.json').read_text())


def _well_defined(model, inputs, noise=1e-5, tol=0.01):
    """(N, K) bool: keypoints whose decoded position (flip test on) moves
    by < ``tol`` crop pixels when the heatmaps get ``noise``-sized
    Gaussian noise, the size of the differences between onnxruntime's and
    PyTorch's float32 kernels. The fitted maps of a random backbone have
    many near-flat or near-tied peaks, where DARK's Newton step or the
    argmax turns such rounding into pixels; a trained model has few."""
    from mmpose.models.utils.tta import flip_heatmaps
    with torch.no_grad():
        maps = (model(inputs, None, mode='tensor') + flip_heatmaps(
            model(inputs.flip(-1), None, mode='tensor'), flip_mode='heatmap',
            flip_indices=model.dataset_meta['flip_indices'],
            shift_heatmap=False)) * 0.5
    maps = maps.numpy()
    rng = np.random.default_rng(0)
    ref = dark_udp_decode(maps)[0]
    moved = [np.linalg.norm(dark_udp_decode(maps + rng.normal(
        0, noise, maps.shape).astype(np.float32))[0] - ref, axis=-1)
        for _ in range(2)]
    return np.max(moved, axis=0) * 4 < tol  # heatmap -> crop pixels


def test_keypoints_match_the_demo(exported, images, tmp_path):
    """The 12 annotated people's boxes (``--bboxes``) in both: the runtime
    CLI's keypoints are those of ``vitpose_mm.tools.demo --eager`` (the
    PyTorch model, flip test on) within 0.05 px, on every keypoint that
    float32 rounding cannot move (:func:`_well_defined`)."""
    from vitpose_mm.tools.demo import main as demo
    cfg_file, ckpt, onnx_file, model, (inputs, samples) = exported
    boxes, visible = {}, {}
    stable = iter(_well_defined(model, inputs))
    for s in samples:
        name = s.metainfo['img_path'].rsplit('/', 1)[-1]
        boxes.setdefault(name, []).extend(
            s.gt_instances.bboxes.astype(float).tolist())
        visible.setdefault(name, []).append(next(stable))
    box_file = tmp_path / 'boxes.json'
    box_file.write_text(json.dumps(boxes))
    demo(['--input', str(images), '--pose-config', str(cfg_file),
          '--pose-checkpoint', str(ckpt), '--bboxes', str(box_file),
          '--eager', '--no-render', '--output-dir', str(tmp_path / 'demo')])
    assert runtime_main(['--input', str(images), '--pose-onnx',
                         str(onnx_file), '--bboxes', str(box_file),
                         '--output-dir', str(tmp_path / 'rt')]) == 0
    shifts = []
    for name in boxes:
        stem = name.rsplit('.', 1)[0]
        want, got = (_people(tmp_path / 'demo', stem),
                     _people(tmp_path / 'rt', stem))
        assert [sorted(p) for p in got] == [sorted(p) for p in want]
        for g, w, vis in zip(got, want, visible[name]):
            assert g['bbox'] == pytest.approx(w['bbox'], abs=1e-3)
            shifts.append(np.linalg.norm(np.subtract(
                g['keypoints'], w['keypoints']), axis=-1)[vis])
            assert np.abs(np.subtract(g['keypoint_scores'],
                                      w['keypoint_scores'])).max() < 1e-4
        assert (tmp_path / 'rt' / name).is_file()  # rendered
    shifts = np.concatenate(shifts)
    assert len(shifts) >= 60  # of 12 x 17 (about 110 here)
    assert shifts.max() < 0.05, np.sort(shifts)[-5:]


def test_boxes_match_the_demo(exported, images, tmp_path):
    """YOLOX in both (ONNX here, mmdet's checkpoint in the demo): the same
    people, boxes within 0.5 px, scores within 1e-3."""
    from vitpose_mm.tools.demo import main as demo
    cfg_file, ckpt, onnx_file, *_ = exported
    det_pth = require_shared('weights/yolox_nano_coco_mmdet.pth')
    det_onnx = require_shared('weights/yolox_nano_coco.onnx')
    demo(['--input', str(images), '--pose-config', str(cfg_file),
          '--pose-checkpoint', str(ckpt), '--det-config', DET_CFG,
          '--det-checkpoint', str(det_pth), '--eager', '--no-render',
          '--output-dir', str(tmp_path / 'demo')])
    assert runtime_main(['--input', str(images), '--pose-onnx',
                         str(onnx_file), '--det-onnx', str(det_onnx),
                         '--no-render', '--output-dir',
                         str(tmp_path / 'rt')]) == 0
    people = 0
    for f in sorted(images.iterdir()):
        want = _people(tmp_path / 'demo', f.stem)
        got = _people(tmp_path / 'rt', f.stem)
        assert len(got) == len(want), f.name
        for g, w in zip(got, want):
            assert np.abs(np.subtract(g['bbox'], w['bbox'])).max() < 0.5
            assert abs(g['bbox_score'] - w['bbox_score']) < 1e-3
        people += len(got)
    assert people == 11  # YOLOX-Nano's people above 0.3 on these images


def test_detector_matches_mmdet_on_all_detections():
    """Every YOLOX detection (all classes, score >= 0.01, after per-class
    NMS): the runtime's equals mmdet's to 0.5 px."""
    import cv2
    from mmdet.apis import inference_detector

    from vitpose_mm.apis import init_person_detector
    root = require_shared('data/coco')
    det = init_person_detector(
        DET_CFG, require_shared('weights/yolox_nano_coco_mmdet.pth'))
    mine = YoloxDetector(str(require_shared('weights/yolox_nano_coco.onnx')))
    for f in sorted(root.glob('*.jpg')):
        img = cv2.imread(str(f))
        ref = inference_detector(det, img).pred_instances.cpu().numpy()
        boxes, scores, labels = mine.detect(img)
        assert len(boxes) == len(ref.bboxes) > 0, f.name
        order = np.lexsort((-ref.scores, ref.labels))
        mine_order = np.lexsort((-scores, labels))
        assert np.array_equal(labels[mine_order], ref.labels[order])
        assert np.abs(boxes[mine_order] - ref.bboxes[order]).max() < 0.5
        assert np.abs(scores[mine_order] - ref.scores[order]).max() < 1e-3
