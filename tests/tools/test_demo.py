"""The whole-image demo, end to end on real images with a tiny ViTPose.

The pose model is ViTPose-S shrunk to width 64 and depth 2 with seeded
random weights: its keypoints are meaningless, but their shapes, their
frame (image pixels) and their equality with ``inference_topdown`` are not.
Two runs go through a subprocess, as a user would (exit status, log
lines, no traceback); the others call ``main`` in-process to save the
start-up time (~10 s of imports per process).
"""
import contextlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO, require_shared
from vitpose_mm.deploy import resolve_backend
from vitpose_mm.tools.demo import main

SMALL_CFG = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco/'
             'vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py')
DET_CFG = 'mmdet::yolox/yolox_nano_8xb8-300e_coco.py'
IMG_A, IMG_B = '000000000785.jpg', '000000040083.jpg'


def _tiny_pose(width: int, folder: Path):
    """Config file and seeded random checkpoint of a ViTPose-S shrunk to
    ``width`` channels and 2 blocks."""
    from mmengine.config import Config
    from mmpose.apis import init_model

    cfg = Config.fromfile(SMALL_CFG)
    cfg.model.backbone.update(embed_dim=width, depth=2, num_heads=2,
                              drop_path_rate=0.)
    cfg.model.head.update(in_channels=width, deconv_out_channels=(32, 32))
    cfg_file, ckpt = folder / f'vitpose_w{width}.py', folder / f'w{width}.pth'
    cfg.dump(str(cfg_file))
    torch.manual_seed(width)
    model = init_model(cfg, None, device='cpu')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    return cfg_file, ckpt


@pytest.fixture(scope='module')
def pose(tmp_path_factory):
    """(config, checkpoint, checkpoint of a width-32 model)."""
    folder = tmp_path_factory.mktemp('pose')
    cfg, ckpt = _tiny_pose(64, folder)
    return cfg, ckpt, _tiny_pose(32, folder)[1]


@pytest.fixture
def images(tmp_path):
    """A folder linking two real COCO images."""
    coco = require_shared('data/coco')
    folder = tmp_path / 'images'
    folder.mkdir()
    for name in (IMG_A, IMG_B):
        (folder / name).symlink_to(coco / name)
    return folder


def _pose_args(pose, out_dir):
    return ['--pose-config', pose[0], '--pose-checkpoint', pose[1],
            '--output-dir', out_dir, '--device', 'cpu']


def _demo(*args):
    """Run the demo in this process."""
    main([str(a) for a in args])


def _run_cli(args):
    """Run the demo as a user would; (exit status, stdout + stderr)."""
    proc = subprocess.run(
        [sys.executable, '-m', 'vitpose_mm.tools.demo', *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


@contextlib.contextmanager
def _logged():
    """Collect the messages of mmengine's current logger."""
    from mmengine.logging import MMLogger

    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _load(path):
    with open(path) as f:
        return json.load(f)


def _check_instance(inst, num_keypoints=17):
    assert np.asarray(inst['keypoints']).shape == (num_keypoints, 2)
    assert np.asarray(inst['keypoint_scores']).shape == (num_keypoints, )
    assert np.asarray(inst['bbox']).shape == (4, )
    assert isinstance(inst['bbox_score'], float)


def _frame_shapes(video):
    cap = cv2.VideoCapture(str(video))
    shapes = []
    ok, frame = cap.read()
    while ok:
        shapes.append(frame.shape)
        ok, frame = cap.read()
    cap.release()
    return shapes


def _iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_detector_run(pose, images, tmp_path):
    """YOLOX-Nano + ViTPose on a folder: a real COCO image, a blank image
    (no person) and a broken file (skipped with a message, exit status 1).
    """
    coco = require_shared('data/coco')
    weights = require_shared('weights/yolox_nano_coco_mmdet.pth')
    (images / IMG_B).unlink()
    (images / 'broken.jpg').write_bytes(b'not a jpeg')
    blank = np.full((120, 160, 3), 255, np.uint8)
    cv2.imwrite(str(images / 'blank.png'), blank)
    out = tmp_path / 'out'
    code, log = _run_cli(
        ['--input', images, '--det-config', DET_CFG, '--det-checkpoint',
         weights, '--bbox-thr', 0.3, *_pose_args(pose, out)])
    assert code == 1, log
    assert log.rstrip().splitlines()[-1] == (
        'error: 1 of 3 images could not be read (first: broken.jpg)')
    assert 'broken.jpg is not a readable image' in log
    assert not (out / 'broken.json').exists()
    assert 'blank.png: no person found' in log
    assert _load(out / 'blank.json') == []
    assert (cv2.imread(str(out / 'blank.png')) == blank).all()

    people = _load(out / '000000000785.json')
    assert len(people) >= 1
    for inst in people:
        _check_instance(inst)
        assert inst['bbox_score'] > 0.3
    # The skier annotated in test_coco.json is found (xywh -> xyxy).
    anns = [a for a in _load(coco / 'test_coco.json')['annotations']
            if a['image_id'] == 785]
    x, y, w, h = anns[0]['bbox']
    assert max(_iou(p['bbox'], [x, y, x + w, y + h]) for p in people) > 0.7
    rendered = cv2.imread(str(out / IMG_A))
    assert rendered.shape == cv2.imread(str(coco / IMG_A)).shape


def test_box_file_formats(pose, images, tmp_path):
    coco = require_shared('data/coco')
    # (a) {file name: boxes}; a box without a score scores 1.
    given = {IMG_A: [[280.5, 45, 500, 380, 0.9], [10, 20, 110, 220]],
             IMG_B: [[100, 100, 200, 300, 0.8]]}
    (tmp_path / 'a.json').write_text(json.dumps(given))
    _demo('--input', images, '--bboxes', tmp_path / 'a.json', '--no-render',
          *_pose_args(pose, tmp_path / 'a'))
    for name, boxes in given.items():
        people = _load(tmp_path / 'a' / (Path(name).stem + '.json'))
        for inst in people:
            _check_instance(inst)
        np.testing.assert_allclose([p['bbox'] for p in people],
                                   [b[:4] for b in boxes])
        np.testing.assert_allclose([p['bbox_score'] for p in people],
                                   [(b + [1])[4] for b in boxes], rtol=1e-6)
    assert not list((tmp_path / 'a').glob('*.jpg'))  # --no-render

    # (b) COCO detection results, matched by COCO id, score > --bbox-thr.
    dets = coco / 'test_coco_det_AP_H_56.json'
    _demo('--input', images, '--bboxes', dets, '--bbox-thr', 0.5,
          '--no-render', *_pose_args(pose, tmp_path / 'b'))
    for name in (IMG_A, IMG_B):
        image_id = int(Path(name).stem)
        want = [[x, y, x + w, y + h, d['score']]
                for d in _load(dets) if d['image_id'] == image_id
                and d['score'] > 0.5 for x, y, w, h in [d['bbox']]]
        people = _load(tmp_path / 'b' / (Path(name).stem + '.json'))
        assert len(want) >= 1
        np.testing.assert_allclose(
            [p['bbox'] + [p['bbox_score']] for p in people], want,
            rtol=1e-5)


def test_matches_inference_topdown(pose, images, tmp_path, monkeypatch):
    """The demo's keypoints are those of mmpose's own calls for the same
    boxes, all crops of an image in one forward (or in --batch-size
    chunks). --eager: the same model, so the same numbers (the fast path
    is compared with eager in test_fast_path_is_the_default...)."""
    from mmpose.apis import inference_topdown, init_model

    from vitpose_mm.models.backbones import ViTPoseBackbone

    boxes = np.array([[280, 45, 500, 380], [10, 20, 300, 400],
                      [50, 60, 250, 330]], dtype=np.float32)
    (tmp_path / 'boxes.json').write_text(
        json.dumps({IMG_A: boxes.tolist()}))
    model = init_model(str(pose[0]), str(pose[1]), device='cpu')
    img = str(images / IMG_A)
    # Batch sizes seen by the backbone (twice each with flip test).
    forward, sizes = ViTPoseBackbone.forward, []

    def counted_forward(self, x):
        sizes.append(len(x))
        return forward(self, x)

    monkeypatch.setattr(ViTPoseBackbone, 'forward', counted_forward)
    for batch, want, want_sizes in (
        ([], inference_topdown(model, img, boxes), ([3], [3, 3])),
        (['--batch-size', 2], inference_topdown(model, img, boxes[:2]) +
         inference_topdown(model, img, boxes[2:]), ([2, 1], [2, 2, 1, 1])),
    ):
        out = tmp_path / f'out{len(batch)}'
        sizes.clear()
        _demo('--input', img, '--bboxes', tmp_path / 'boxes.json',
              '--no-render', '--eager', *batch, *_pose_args(pose, out))
        assert sizes in want_sizes
        people = _load(out / '000000000785.json')
        assert len(people) == len(want)
        for inst, sample in zip(people, want):
            np.testing.assert_allclose(
                inst['keypoints'], sample.pred_instances.keypoints[0],
                atol=1e-4)
            np.testing.assert_allclose(
                inst['keypoint_scores'],
                sample.pred_instances.keypoint_scores[0], atol=1e-6)


def test_video(pose, tmp_path):
    coco = require_shared('data/coco')
    img = cv2.imread(str(coco / IMG_A))
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'),
                             10, (img.shape[1], img.shape[0]))
    for _ in range(3):
        writer.write(img)
    writer.release()
    # One list of boxes per frame; frame 1 has none.
    per_frame = [[[280, 45, 500, 380]], [], [[280, 45, 500, 380],
                                            [10, 20, 110, 220, 0.9]]]
    (tmp_path / 'boxes.json').write_text(json.dumps({'clip.mp4': per_frame}))
    out = tmp_path / 'out'
    _demo('--input', video, '--bboxes', tmp_path / 'boxes.json',
          *_pose_args(pose, out))
    frames = _load(out / 'clip.json')
    assert [len(f) for f in frames] == [1, 0, 2]
    for frame, boxes in zip(frames, per_frame):
        np.testing.assert_allclose(
            np.reshape([p['bbox'] for p in frame], (-1, 4)),
            np.reshape([b[:4] for b in boxes], (-1, 4)))
    # mp4v may crop odd sizes: compare with the input as read back.
    assert _frame_shapes(out / 'clip.mp4') == _frame_shapes(video)
    assert len(_frame_shapes(video)) == 3


def test_bad_boxes(pose, images, tmp_path):
    """Zero-area, inverted and outside boxes are skipped, each named; an
    image without boxes gets an empty list."""
    boxes = {IMG_A: [[280, 45, 500, 380], [10, 10, 10, 50],
                     [300, 60, 200, 80], [700, 10, 800, 90]]}
    (tmp_path / 'boxes.json').write_text(json.dumps(boxes))
    out = tmp_path / 'out'
    with _logged() as lines:
        _demo('--input', images, '--bboxes', tmp_path / 'boxes.json',
              *_pose_args(pose, out))
    log = '\n'.join(lines)
    assert 'skipped box 1 [10, 10, 10, 50]: has zero or negative area' in log
    assert 'skipped box 2 [300, 60, 200, 80]: has zero or negative area' in log
    assert 'skipped box 3 [700, 10, 800, 90]: lies outside the 640x425' in log
    assert '000000040083.jpg: no boxes in' in log
    people = _load(out / '000000000785.json')
    assert [p['bbox'] for p in people] == [boxes[IMG_A][0]]
    assert _load(out / '000000040083.json') == []


def test_mismatched_checkpoint(pose, images, tmp_path):
    """A width-32 model's checkpoint for the width-64 config stops the run
    before any output, naming the first differing tensor and its shapes.
    """
    (tmp_path / 'boxes.json').write_text('{}')
    with pytest.raises(SystemExit) as exc:
        _demo('--input', images / IMG_A, '--bboxes', tmp_path / 'boxes.json',
              *_pose_args((pose[0], pose[2]), tmp_path / 'out'))
    msg = str(exc.value.code)
    assert msg.startswith(f'error: pose checkpoint {pose[2]}')
    assert re.search(r'backbone\.pos_embed\D*\(1, 193, 32\)'
                     r'\D*\(1, 193, 64\)', msg), msg
    assert '\n' not in msg
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('make, message', [
    (lambda d: d / 'missing.jpg', 'input .*missing.jpg does not exist'),
    (lambda d: d / 'texts', 'folder .*texts holds no images'),
    (lambda d: d / 'texts/notes.txt', 'input .*notes.txt is neither an image'),
    (lambda d: d / 'broken.jpg', '.*broken.jpg is not a readable image'),
    (lambda d: d / 'broken.mp4', '.*broken.mp4 is not a readable video'),
])
def test_fatal_input_errors(pose, tmp_path, make, message):
    (tmp_path / 'texts').mkdir()
    (tmp_path / 'texts/notes.txt').write_text('hi')
    (tmp_path / 'broken.jpg').write_bytes(b'')
    (tmp_path / 'broken.mp4').write_bytes(b'not a video')
    (tmp_path / 'boxes.json').write_text('{}')
    with pytest.raises(SystemExit, match=f'^error: {message}'):
        _demo('--input', make(tmp_path), '--bboxes', tmp_path / 'boxes.json',
              *_pose_args(pose, tmp_path / 'out'))


@pytest.mark.parametrize('content, message', [
    ('{"000000000785.jpg": [[1, 2, 3]]}', 'box 0 of .* must be'),
    ('[{"image_id": 785}]', 'entry 0 of .* must be a dict with'),
    ('{"a": ', 'is not valid JSON'),
])
def test_bad_box_file(pose, images, tmp_path, content, message):
    (tmp_path / 'boxes.json').write_text(content)
    with pytest.raises(SystemExit, match=f'^error: .*{message}'):
        _demo('--input', images / IMG_A, '--bboxes', tmp_path / 'boxes.json',
              *_pose_args(pose, tmp_path / 'out'))


def test_box_source_is_required_once(pose, tmp_path):
    args = ['--input', tmp_path, *_pose_args(pose, tmp_path / 'out')]
    for extra in ([], ['--det-config', DET_CFG],
                  ['--bboxes', 'b.json', '--det-config', DET_CFG,
                   '--det-checkpoint', 'd.pth']):
        with pytest.raises(SystemExit) as exc:
            _demo(*args, *extra)
        assert exc.value.code == 2  # argparse's usage error


def test_dataset_selects_the_vitpose_plus_expert_and_head(pose, images,
                                                          tmp_path):
    from mmengine.config import Config
    from mmpose.apis import init_model

    plus_cfg = Config.fromfile(
        REPO / 'configs/body_2d_keypoint/topdown_heatmap/vitpose_plus/'
        'vitpose-mm_td-hm_ViTPose-plus-tiny_1xb16-3e_6datasets-tiny-256x192.py')
    cfg_file, ckpt = tmp_path / 'plus.py', tmp_path / 'plus.pth'
    plus_cfg.dump(str(cfg_file))
    torch.manual_seed(0)
    model = init_model(plus_cfg, None, device='cpu')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({IMG_A: [[280.5, 45, 500, 380, 0.9]],
                                 IMG_B: [[100, 100, 200, 300, 0.8]]}))
    plus = (cfg_file, ckpt)
    for dataset, num_keypoints in (('aic', 14), ('mpii', 16)):
        out = tmp_path / dataset
        _demo('--input', images, '--bboxes', boxes, '--dataset', dataset,
              *_pose_args(plus, out))
        for name in (IMG_A, IMG_B):
            people = _load(out / (Path(name).stem + '.json'))
            assert len(people) == 1
            _check_instance(people[0], num_keypoints)
        assert (out / IMG_A).exists()  # rendered with that skeleton
    with pytest.raises(SystemExit, match='choose its dataset with --dataset'):
        _demo('--input', images, '--bboxes', boxes,
              *_pose_args(plus, tmp_path / 'z'))
    with pytest.raises(SystemExit, match="Unknown dataset 'cocoo'"):
        _demo('--input', images, '--bboxes', boxes, '--dataset', 'cocoo',
              *_pose_args(plus, tmp_path / 'x'))
    with pytest.raises(SystemExit, match='not a ViTPose\\+ model'):
        _demo('--input', images, '--bboxes', boxes, '--dataset', 'coco',
              *_pose_args(pose, tmp_path / 'y'))


def _keypoints(out_dir, name=IMG_A):
    return np.array([p['keypoints'] for p in
                     _load(out_dir / (Path(name).stem + '.json'))])


@pytest.fixture
def one_box(images, tmp_path):
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({IMG_A: [[280, 45, 500, 380],
                                         [10, 20, 300, 400]]}))
    return ['--input', images / IMG_A, '--bboxes', boxes, '--no-render']


def test_fast_path_is_the_default_and_eager_a_switch(pose, one_box,
                                                     tmp_path):
    runs = {}
    for name, extra in (('fast', []), ('eager', ['--eager']),
                        ('bf16', ['--precision', 'bf16'])):
        with _logged() as lines:
            _demo(*one_box, *extra, *_pose_args(pose, tmp_path / name))
        runs[name] = _keypoints(tmp_path / name)
        assert runs[name].shape == (2, 17, 2)
        runs[name + '_log'] = [x for x in lines if 'pose model:' in x]
    kernel = resolve_backend('auto', 'cpu', torch.float32)
    assert runs['fast_log'] == [f'pose model: fast path (fp32, {kernel})']
    assert runs['eager_log'] == ['pose model: eager (fp32)']
    assert runs['bf16_log'][0].startswith('pose model: fast path (bf16, ')
    # fp32 fast path: the same keypoints up to float rounding (heatmaps
    # within ~1e-6). The random head's flat heatmaps make DARK's sub-pixel
    # step ill-conditioned, so a few keypoints move by up to ~0.1 px
    # (tests/deploy/test_precision_coco.py checks a fitted model).
    shift = np.linalg.norm(runs['fast'] - runs['eager'], axis=-1)
    assert np.mean(shift < 1e-2) > 0.9 and shift.max() < 0.5


@pytest.mark.parametrize('extra', [['--eager', '--precision', 'fp16'],
                                   ['--precision', 'half']])
def test_bad_precision_switches_are_usage_errors(pose, one_box, tmp_path,
                                                 extra):
    with pytest.raises(SystemExit) as exc:
        _demo(*one_box, *extra, *_pose_args(pose, tmp_path / 'out'))
    assert exc.value.code == 2


def test_init_pose_model_modes(pose):
    from vitpose_mm.apis import InputError, init_pose_model
    fast = init_pose_model(pose[0], pose[1])
    assert fast.deploy_cfg == dict(
        precision='fp32', backend=resolve_backend('auto', 'cpu',
                                                  torch.float32))
    eager = init_pose_model(pose[0], pose[1], fast=False)
    assert not hasattr(eager, 'deploy_cfg') and not eager.training
    with pytest.raises(InputError, match='plain eager model is fp32'):
        init_pose_model(pose[0], pose[1], fast=False, precision='bf16')
    with pytest.raises(InputError, match="precision 'int8' runs on the CPU"):
        init_pose_model(pose[0], pose[1], device='cuda:0', precision='int8')
    with pytest.raises(InputError, match='a config is needed'):
        init_pose_model(None, pose[1])


def test_onnx_pose_checkpoint(pose, one_box, tmp_path):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    from vitpose_mm.tools.export_onnx import main as export
    onnx_file = tmp_path / 'pose.onnx'
    export([str(pose[0]), str(pose[1]), str(onnx_file)])
    args = [*one_box, '--pose-checkpoint', onnx_file]
    with _logged() as lines:
        _demo(*args, '--output-dir', tmp_path / 'onnx')
    assert 'pose model: onnxruntime (fp32)' in lines
    _demo(*one_box, '--eager', *_pose_args(pose, tmp_path / 'eager'))
    got, want = _keypoints(tmp_path / 'onnx'), _keypoints(tmp_path / 'eager')
    # Ties between near-equal peaks of a random head may decode apart.
    assert np.median(np.linalg.norm(got - want, axis=-1)) < 0.05
    # Its own config given too: fine; another input size: refused.
    _demo(*args, '--pose-config', pose[0], '--output-dir', tmp_path / 'c')
    other = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
             'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')
    with pytest.raises(SystemExit, match=r'does not fit config .*input size '
                       r'\(192, 256\) and 17 keypoints in the file, '
                       r'\(96, 128\)'):
        _demo(*args, '--pose-config', other, '--output-dir', tmp_path / 'x')
    with pytest.raises(SystemExit, match='ONNX model was exported for '
                       'dataset|not a ViTPose\\+ model'):
        _demo(*args, '--dataset', 'aic', '--output-dir', tmp_path / 'y')
    for extra in (['--eager'], ['--precision', 'bf16']):
        with pytest.raises(SystemExit) as exc:
            _demo(*args, *extra, '--output-dir', tmp_path / 'z')
        assert exc.value.code == 2


@pytest.mark.parametrize('flags, chosen', [
    (['avx2'], 'fp32'),  # bf16 emulated; torch int8 moves keypoints > 0.5 px
    (['avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'amx_bf16'], 'bf16'),
])
def test_precision_auto_says_what_it_chose(pose, one_box, tmp_path,
                                           monkeypatch, flags, chosen):
    import vitpose_runtime.precision as precision
    monkeypatch.setattr(precision, 'cpu_flags', lambda: flags)
    with _logged() as lines:
        _demo(*one_box, '--precision', 'auto',
              *_pose_args(pose, tmp_path / 'out'))
    assert _keypoints(tmp_path / 'out').shape == (2, 17, 2)
    said = [x for x in lines if 'precision auto' in x]
    assert len(said) == 1 and f'precision auto: {chosen} (' in said[0]
    assert 'p99' in said[0] or 'nothing faster' in said[0]
    path = [x for x in lines if 'pose model:' in x]
    assert path[0].startswith(f'pose model: fast path ({chosen}, ')


def test_init_pose_model_precision_auto(pose, monkeypatch):
    import vitpose_runtime.precision as precision

    from vitpose_mm.apis import InputError, init_pose_model
    monkeypatch.setattr(precision, 'cpu_flags', lambda: ['avx2'])
    model = init_pose_model(pose[0], pose[1], precision='auto')
    assert model.deploy_cfg['precision'] == 'fp32'
    assert model.precision_choice[0] == 'fp32'
    eager = init_pose_model(pose[0], pose[1], fast=False, precision='auto')
    assert not hasattr(eager, 'deploy_cfg')
    assert eager.precision_choice == (
        'fp32', 'the plain eager model (fast=False) is fp32')
    with pytest.raises(InputError, match="'automatic'"):
        init_pose_model(pose[0], pose[1], precision='automatic')
