"""vitpose_runtime on its own: no torch / OpenMMLab, decode, crops, YOLOX,
the pose file reader, the API and the CLI as a user runs it.

Parity with the full stack (bit-exact decode, crops, boxes and keypoints
against ``vitpose_mm.tools.demo``) is tested in the main suite
(``tests/projects/test_runtime_parity.py``); these tests run in the light
venv of ``run_tests.sh``.
"""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import blob_pose_onnx, dot_image, require_shared

import vitpose_runtime
from vitpose_runtime import Estimator, PoseModel, YoloxDetector
from vitpose_runtime.decode import dark_udp_decode, flip_back
from vitpose_runtime.detector import (anchor_points, letterbox, nms_mmcv,
                                      nms_mmpose)
from vitpose_runtime.pose import box_center_scale, udp_warp_matrix

CLI = Path(sys.executable).with_name('vitpose-runtime')


def test_runs_without_torch_and_openmmlab():
    for name in ('torch', 'mmcv', 'mmengine', 'mmdet', 'mmpose'):
        assert importlib.util.find_spec(name) is None, name
    # The installed package, not the source folder.
    assert 'site-packages' in vitpose_runtime.__file__


def gaussian_maps(centres, size=(24, 32), sigma=2.):
    """(1, N, H, W) Gaussians at sub-pixel (x, y) ``centres``."""
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma
                                                                ** 2))
                     for x, y in centres])[None].astype(np.float32)


def test_decode_finds_sub_pixel_peaks():
    centres = [(10.3, 14.8), (6.0, 9.0), (15.6, 20.25)]
    kpts, scores = dark_udp_decode(gaussian_maps(centres))
    assert kpts.shape == (1, 3, 2) and kpts.dtype == np.float32
    assert np.abs(kpts[0] - centres).max() < 0.05
    assert np.all(scores > 0.8)
    # A map without a positive value has score <= 0 (a "missing" keypoint).
    _, scores = dark_udp_decode(-gaussian_maps(centres))
    assert (scores <= 0).all()
    with pytest.raises(ValueError, match='must be odd, got 4'):
        dark_udp_decode(gaussian_maps(centres), 4)
    with pytest.raises(ValueError, match=r'\(B, K, H, W\), got shape'):
        dark_udp_decode(np.zeros((3, 4, 5)))


def test_flip_back_mirrors_and_swaps_keypoints():
    maps = np.zeros((1, 17, 4, 6), np.float32)
    maps[0, 1, 2, 1] = 1  # left eye at x = 1 of the flipped crop
    out = flip_back(maps, list(range(17))[:0] + [0, 2, 1] + list(range(3,
                                                                       17)))
    assert out[0, 2, 2, 4] == 1 and out.sum() == 1  # right eye, x = 6-1-1
    with pytest.raises(ValueError, match='3 flip indices for 17 heatmaps'):
        flip_back(maps, [0, 1, 2])


def test_udp_crop_maps_the_box_centre_to_the_crop_centre():
    boxes = np.array([[10., 20., 50., 100.]])
    center, scale = box_center_scale(boxes, 1.25, 48 / 64)
    assert center.tolist() == [[30., 60.]]
    assert scale.tolist() == [[75., 100.]]  # 100 high, widened to 3:4
    mat = udp_warp_matrix(center[0], scale[0], (48, 64))
    mapped = mat @ np.array([30., 60., 1.])
    # ((w - 1) / 2, (h - 1) / 2), and the padded box's corner to (0, 0).
    assert mapped == pytest.approx([23.5, 31.5], abs=1e-5)
    corner = mat @ np.array([30. - 37.5, 60. - 50., 1.])
    assert corner == pytest.approx([0., 0.], abs=1e-5)


def test_keypoints_land_on_the_dot(tmp_path):
    """A stand-in pose model whose heatmaps are the crop's brightness:
    every keypoint lands on a white dot, in image pixels, whatever the box
    (flip test, batching and a fixed-batch file included)."""
    dot = (97., 41.)
    img = dot_image(dot)
    boxes = np.array([[70., 10., 120., 80., 0.9],
                      [85., 30., 110., 60., 0.8],
                      [60., 5., 140., 110., 0.7]], np.float32)
    for kwargs, batch in (({}, 'batch'), ({'flip_test': True}, 'batch'),
                          ({'batch_size': 2}, 'batch'), ({}, 2)):
        path = blob_pose_onnx(tmp_path / f'pose{batch}.onnx', batch=batch)
        people = Estimator(None, str(path), **kwargs)(img, boxes)
        assert len(people) == 3
        for person, box in zip(people, boxes):
            assert sorted(person) == ['bbox', 'bbox_score', 'keypoint_scores',
                                      'keypoints']
            assert person['bbox'] == pytest.approx(box[:4].tolist())
            assert person['bbox_score'] == pytest.approx(float(box[4]))
            kpts = np.asarray(person['keypoints'])
            assert kpts.shape == (17, 2)
            # Within half a heatmap pixel (4 crop pixels) of the biggest box.
            assert np.abs(kpts - dot).max() < 2.5, (kwargs, batch, kpts[0])
    model = PoseModel(str(path))
    assert model.num_keypoints == 17 and model.fixed_batch == 2
    assert model(img, np.zeros((0, 5)))[0].shape == (0, 17, 2)


def test_foreign_onnx_files_are_refused(tmp_path):
    det = require_shared('weights/yolox_nano_coco.onnx')
    with pytest.raises(ValueError, match="has no 'vitpose_mm.runtime' "
                       'metadata: export it with'):
        PoseModel(str(det))
    with pytest.raises(FileNotFoundError, match='missing.onnx not found'):
        PoseModel(str(tmp_path / 'missing.onnx'))
    (tmp_path / 'bad.onnx').write_bytes(b'not onnx')
    with pytest.raises(ValueError, match='cannot load ONNX file .*bad.onnx'):
        YoloxDetector(str(tmp_path / 'bad.onnx'))


def test_letterbox_and_anchor_points():
    img = np.zeros((480, 640, 3), np.uint8)
    batch, (sx, sy) = letterbox(img, 416)
    assert batch.shape == (1, 3, 416, 416) and batch.dtype == np.float32
    assert (sx, sy) == (416 / 640, 312 / 480)  # int(480 * 0.65 + 0.5)
    assert (batch[0, :, 312:] == 114).all() and (batch[0, :, :312] == 0).all()
    points = anchor_points(416)
    assert len(points) == 52 ** 2 + 26 ** 2 + 13 ** 2 == 3549
    assert points[1].tolist() == [8, 0, 8] and points[-1].tolist() == [
        384, 384, 32]


def test_nms_variants():
    boxes = np.array([[0, 0, 9, 9], [0, 0, 9, 10], [20, 20, 30, 30]],
                     np.float32)
    scores = np.array([0.5, 0.9, 0.8], np.float32)
    assert nms_mmcv(boxes, scores, 0.5).tolist() == [1, 2]
    # mmcv: IoU 81/90 = 0.9 (kept at 0.95); mmpose adds a pixel: 100/110.
    assert nms_mmcv(boxes, scores, 0.95).tolist() == [1, 2, 0]
    assert nms_mmpose(boxes, scores, 0.905).tolist() == [1, 2]


def test_yolox_finds_the_annotated_skier():
    coco = require_shared('data/coco')
    det = YoloxDetector(str(require_shared('weights/yolox_nano_coco.onnx')))
    people = det.people(cv2.imread(str(coco / '000000000785.jpg')))
    assert people.shape == (1, 5) and people[0, 4] > 0.7
    x, y, w, h = 280.79, 44.73, 218.7, 346.68  # test_coco.json
    x1, y1 = np.maximum(people[0, :2], [x, y])
    x2, y2 = np.minimum(people[0, 2:4], [x + w, y + h])
    inter = (x2 - x1) * (y2 - y1)
    area = np.prod(people[0, 2:4] - people[0, :2]) + w * h
    assert inter / (area - inter) > 0.7


def run_cli(*args):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True,
                          text=True, timeout=120)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_cli_folder_with_the_detector(pose_onnx, tmp_path):
    coco = require_shared('data/coco')
    det = require_shared('weights/yolox_nano_coco.onnx')
    folder = tmp_path / 'in'
    folder.mkdir()
    shutil.copy(coco / '000000040083.jpg', folder)
    cv2.imwrite(str(folder / 'blank.png'), np.full((60, 80, 3), 255,
                                                   np.uint8))
    (folder / 'broken.jpg').write_bytes(b'not a jpeg')
    (folder / 'notes.txt').write_text('ignored')
    # issue 20 item 4: first a 4000x2 image the letterbox cannot scale
    # (skipped, named, the rest goes on); 1x1 and 12000x9000 are fine.
    cv2.imwrite(str(folder / '0_wide.png'), np.full((2, 4000, 3), 90,
                                                   np.uint8))
    cv2.imwrite(str(folder / 'dot.png'), np.full((1, 1, 3), 90, np.uint8))
    cv2.imwrite(str(folder / 'huge.png'), np.full((9000, 12000, 3), 90,
                                                  np.uint8))
    out = tmp_path / 'out'
    code, log = run_cli('--input', folder, '--pose-onnx', pose_onnx,
                        '--det-onnx', det, '--output-dir', out)
    assert code == 1, log
    assert 'skipped: image' in log and 'broken.jpg is not an image' in log
    assert (f'skipped: image {folder / "0_wide.png"}: its 4000x2 pixels '
            'cannot be resized for the detector (OpenCV: ') in log
    assert (f'2 of 6 images skipped (first: 0_wide.png); the others are in '
            f'{out}') in log
    assert not (out / '0_wide.json').exists()
    assert json.loads((out / 'dot.json').read_text()) == []
    assert json.loads((out / 'huge.json').read_text()) == []
    assert json.loads((out / 'blank.json').read_text()) == []
    people = json.loads((out / '000000040083.json').read_text())
    assert len(people) == 2  # the two annotated people
    for p in people:
        assert p['bbox_score'] > 0.3 and len(p['keypoints']) == 17
    drawn = cv2.imread(str(out / '000000040083.jpg'))
    assert drawn.shape == cv2.imread(str(coco / '000000040083.jpg')).shape
    assert not (drawn == cv2.imread(str(coco / '000000040083.jpg'))).all()


def test_cli_video_with_box_file(pose_onnx, tmp_path):
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'),
                             10, (160, 120))
    for i in range(3):
        writer.write(dot_image((60 + 10 * i, 50), radius=3))
    writer.release()
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'clip.mp4': [
        [[30, 10, 100, 100]], [], [[40, 10, 110, 100, 0.9],
                                   [0, 0, 0, 0, 0.9]]]}))
    out = tmp_path / 'out'
    code, log = run_cli('--input', video, '--pose-onnx', pose_onnx,
                        '--bboxes', boxes, '--output-dir', out)
    assert code == 0, log
    assert 'clip.mp4 frame 2: skipped box 1' in log
    frames = json.loads((out / 'clip.json').read_text())
    assert [len(f) for f in frames] == [1, 0, 1]
    assert np.abs(np.asarray(frames[2][0]['keypoints'])
                  - (80, 50)).max() < 2
    assert (out / 'clip.mp4').stat().st_size > 0


@pytest.mark.parametrize('args, message', [
    (['--input', 'missing.jpg'], 'input missing.jpg does not exist'),
    (['--pose-onnx', 'det'], "has no 'vitpose_mm.runtime' metadata"),
])
def test_cli_errors_are_one_line(pose_onnx, tmp_path, args, message):
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), dot_image((50, 50)))
    given = dict(zip(args[::2], args[1::2]))
    if given.get('--pose-onnx') == 'det':
        given['--pose-onnx'] = require_shared('weights/yolox_nano_coco.onnx')
    opts = {'--input': img, '--pose-onnx': pose_onnx,
            '--det-onnx': require_shared('weights/yolox_nano_coco.onnx'),
            **given}
    code, log = run_cli(*[v for kv in opts.items() for v in kv],
                        '--output-dir', tmp_path / 'out')
    assert code == 1
    assert log.strip().splitlines()[-1].startswith('vitpose-runtime: ')
    assert message in log


def test_cli_refuses_an_output_folder_in_use(pose_onnx, tmp_path):
    """issue 20 item 6: while another run holds the folder's lock, the CLI
    refuses in one line naming the folder and writes nothing there; once
    the holder is killed (SIGKILL) the folder is free."""
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), dot_image((50, 50)))
    out = tmp_path / 'out'
    out.mkdir()
    hold = ('import sys, time; from vitpose_runtime.output_lock import '
            'lock_output_dir; lock = lock_output_dir(sys.argv[1]); '
            'print("held", flush=True); time.sleep(120)')
    holder = subprocess.Popen([sys.executable, '-c', hold, str(out)],
                              stdout=subprocess.PIPE, text=True)
    args = ('--input', img, '--pose-onnx', pose_onnx, '--det-onnx',
            require_shared('weights/yolox_nano_coco.onnx'), '--output-dir',
            out)
    try:
        assert holder.stdout.readline() == 'held\n'
        code, log = run_cli(*args)
    finally:
        holder.kill()
        holder.wait()
    assert code == 1, log
    assert log.strip().splitlines() == [
        f'vitpose-runtime: output folder {out} is in use by another run '
        f'(process {holder.pid}); wait for it or choose another '
        '--output-dir']
    assert [p.name for p in out.iterdir()] == ['.vitpose.lock']
    code, log = run_cli(*args)
    assert code == 0, log
    assert (out / 'a.json').exists()
