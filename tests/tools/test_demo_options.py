"""The demo's mmpose-style options and its behaviour under faults: drawing
options, camera input, output folders checked before any model loads,
per-frame results that survive an interrupted or killed video run, and
trust granted per checkpoint file."""
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import REPO, require_shared
from tests.tools.test_demo import (IMG_A, _demo, _frame_shapes, _load,
                                   _pose_args, _run_cli, images,
                                   pose)  # noqa: F401
from vitpose_mm.tools import demo as demo_tool

BOX = [[280, 45, 500, 380]]


@pytest.fixture
def one_image(tmp_path):
    """(image path, box file) for one real COCO image with one box."""
    coco = require_shared('data/coco')
    (tmp_path / 'boxes.json').write_text(json.dumps({IMG_A: BOX}))
    return coco / IMG_A, tmp_path / 'boxes.json'


def test_drawing_options_change_the_drawing_not_the_results(
        pose, one_image, tmp_path):  # noqa: F811
    img, boxes = one_image
    _demo('--input', img, '--bboxes', boxes, '--eager',
          *_pose_args(pose, tmp_path / 'plain'))
    _demo('--input', img, '--bboxes', boxes, '--eager', '--pose-config',
          pose[0], '--pose-checkpoint', pose[1], '--output-root',
          tmp_path / 'drawn', '--save-predictions', '--draw-bbox',
          '--draw-heatmap', '--show-kpt-idx', '--skeleton-style', 'openpose',
          '--radius', 5, '--thickness', 3, '--alpha', 0.5, '--kpt-thr', 0)
    plain = cv2.imread(str(tmp_path / 'plain' / IMG_A))
    drawn = cv2.imread(str(tmp_path / 'drawn' / IMG_A))
    height, width = cv2.imread(str(img)).shape[:2]
    assert plain.shape == (height, width, 3)
    # the heatmaps are stacked below the image
    assert drawn.shape == (2 * height, width, 3)
    assert drawn[height:].max() > 0
    assert np.abs(drawn[:height].astype(int) - plain).max() > 50
    assert _load(tmp_path / 'plain' / '000000000785.json') == \
        _load(tmp_path / 'drawn' / '000000000785.json')
    # results get the umask's mode, as open() gives (issue 20: 0600)
    mask = os.umask(0o022)
    os.umask(mask)
    assert (tmp_path / 'plain' / '000000000785.json').stat().st_mode & \
        0o777 == 0o666 & ~mask


def test_meta_device_is_one_line(one_image, tmp_path):
    img, boxes = one_image
    code, out = _run_cli([
        '--input', img, '--bboxes', boxes, '--pose-config', 'x.py',
        '--pose-checkpoint', 'x.pth', '--output-dir', tmp_path / 'out',
        '--device', 'meta'
    ])
    assert code == 1
    assert out.strip().splitlines()[-1] == (
        'error: --device meta: the demo runs on cpu or cuda, not meta')
    assert not (tmp_path / 'out').exists()


def _a_file(folder, *below):
    (folder / 'f').write_text('x')
    return folder.joinpath('f', *below)


@pytest.mark.parametrize('make, message', [
    (_a_file, 'is a file, not a folder'),
    (lambda d: _a_file(d, 'sub'), 'its parent .* is a file'),
])
def test_bad_output_folder_stops_before_any_model_loads(
        pose, one_image, tmp_path, monkeypatch, make, message):  # noqa: F811
    img, boxes = one_image

    def loaded(*args, **kwargs):
        raise AssertionError('a model was loaded')

    monkeypatch.setattr(demo_tool, 'init_pose_model', loaded)
    with pytest.raises(SystemExit, match=f'error: --output-dir .*{message}'):
        _demo('--input', img, '--bboxes', boxes,
              *_pose_args(pose, make(tmp_path)))


def test_unwritable_output_folder_stops_before_any_model_loads(
        pose, one_image, tmp_path, monkeypatch):  # noqa: F811
    """A folder the user cannot write to (as root, chmod does not stop the
    write, so the probe's failure is simulated): one line, no model."""
    img, boxes = one_image

    def denied(*args, **kwargs):
        raise PermissionError(13, 'Permission denied')

    def loaded(*args, **kwargs):
        raise AssertionError('a model was loaded')

    monkeypatch.setattr(demo_tool, 'init_pose_model', loaded)
    monkeypatch.setattr(demo_tool.tempfile, 'TemporaryFile', denied)
    out = tmp_path / 'ro' / 'out'
    with pytest.raises(SystemExit, match=(
            r'error: --output-dir .*out cannot be written \(.*: '
            r'Permission denied\)')):
        _demo('--input', img, '--bboxes', boxes, *_pose_args(pose, out))
    assert not out.exists()


def test_missing_camera_is_one_line(pose, tmp_path):  # noqa: F811
    (tmp_path / 'boxes.json').write_text('{}')
    with pytest.raises(SystemExit, match='error: cannot open camera 7 '):
        _demo('--input', '7', '--bboxes', tmp_path / 'boxes.json',
              *_pose_args(pose, tmp_path / 'out'))
    assert demo_tool.camera_index('webcam') == 0
    assert demo_tool.camera_index('3') == 3
    assert demo_tool.camera_index(str(tmp_path)) is None


def test_detector_payload_never_runs_under_the_pose_flag(
        pose, one_image, tmp_path):  # noqa: F811

    class Payload:

        def __reduce__(self):
            return os.system, (f'touch {tmp_path / "PWNED"}', )

    det = tmp_path / 'det.pth'
    torch.save({'state_dict': {}, 'meta': {'x': Payload()}}, det)
    img, _ = one_image
    with pytest.raises(SystemExit) as exc:
        _demo('--input', img, '--det-config',
              'mmdet::yolox/yolox_nano_8xb8-300e_coco.py', '--det-checkpoint',
              det, '--unsafe-pickle', *_pose_args(pose, tmp_path / 'out'))
    msg = str(exc.value.code)
    assert str(det) in msg and 'posix.system' in msg, msg
    assert '\n' not in msg
    assert not (tmp_path / 'PWNED').exists()


def _write_video(path, frames=400):
    img = cv2.resize(cv2.imread(str(require_shared('data/coco') / IMG_A)),
                     (160, 120))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (160, 120))
    for _ in range(frames):
        writer.write(img)
    writer.release()


def _start_video_run(pose, tmp_path):  # noqa: F811
    video = tmp_path / 'clip.mp4'
    _write_video(video)
    boxes = {'clip.mp4': [[[20, 5, 120, 110]]] * 400}
    (tmp_path / 'boxes.json').write_text(json.dumps(boxes))
    out = tmp_path / 'out'
    proc = subprocess.Popen([
        sys.executable, '-m', 'vitpose_mm.tools.demo', '--input',
        str(video), '--bboxes',
        str(tmp_path / 'boxes.json'), *map(str, _pose_args(pose, out))
    ],
                            cwd=REPO,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True)
    lines = out / 'clip.jsonl'
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if lines.is_file() and lines.read_text().count('\n') >= 3:
            return proc, out
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f'no frames written: {proc.communicate()}')


def _frames_in(lines_file):
    records = [json.loads(line) for line in lines_file.read_text().splitlines()]
    assert [r['frame'] for r in records] == list(range(len(records)))
    return records


def test_killed_video_run_keeps_every_finished_frame(pose, tmp_path):  # noqa: F811,E501
    proc, out = _start_video_run(pose, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    records = _frames_in(out / 'clip.jsonl')
    assert 3 <= len(records) < 400
    assert all(len(r['instances']) == 1 for r in records)


def test_interrupted_video_run_closes_its_outputs(pose, tmp_path):  # noqa: F811,E501
    proc, out = _start_video_run(pose, tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert 'Traceback' not in err and 'interrupted' in err
    records = _frames_in(out / 'clip.jsonl')
    frames = _load(out / 'clip.json')
    assert len(frames) == len(records) < 400
    assert frames == [r['instances'] for r in records]
    # the mp4 is closed: readable, one frame per finished frame
    assert len(_frame_shapes(out / 'clip.mp4')) == len(records)


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_interrupt_while_a_frame_is_recorded_waits_for_the_frame(signum):
    """A signal arriving between two outputs of one frame is raised only
    after the frame is in every output (the JSON and JSON Lines files of
    an interrupted video then hold the same frames)."""
    demo_tool._interrupt_on_sigterm()
    recorded = []
    with pytest.raises(KeyboardInterrupt):
        with demo_tool._interrupts_deferred():
            recorded.append('json')
            os.kill(os.getpid(), signum)
            recorded.append('jsonl')
            recorded.append('mp4')
    assert recorded == ['json', 'jsonl', 'mp4']
    # the handlers are back: an interrupt outside the block is immediate
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
        time.sleep(1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
