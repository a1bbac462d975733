"""Video pose estimation in the light venv (no torch, no trackers, scipy
or PyAV): the tracking fallback, robust video reading with OpenCV, and the
CLI's video path with track ids.

The identity metrics of the full method (with the trackers library) are
tested in the main suite (tests/apis/test_tracking.py) and measured by
benchmarks/video_tracking.py.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import dot_image, require_shared

from vitpose_runtime import Estimator, PoseTracker, VideoReader

CLI = Path(sys.executable).with_name('vitpose-runtime')


def test_the_light_venv_has_no_tracking_extras():
    for name in ('trackers', 'scipy', 'av', 'torch'):
        assert importlib.util.find_spec(name) is None, name


def test_dots_keep_their_ids_without_the_trackers_library(pose_onnx):
    """Two dots (the blob pose model peaks on them) move towards each
    other; the detector is scripted and misses the right one on frames
    4-5: the pose model finds it at its last place, and the ids stay."""
    est = Estimator(None, str(pose_onnx))
    frames, boxes = [], []
    for t in range(10):
        a, b = (40 + 4 * t, 60), (200 - 4 * t, 60)
        img = np.maximum(dot_image(a, (240, 120), 3),
                         dot_image(b, (240, 120), 3))
        frames.append(img)
        boxes.append([[a[0] - 25, 20, a[0] + 25, 100, 0.9],
                      [b[0] - 25, 20, b[0] + 25, 100, 0.9]])

    calls = []

    def detect(img):
        t = len(calls)
        calls.append(t)
        people = boxes[t][:1] if t in (4, 5) else boxes[t]
        return np.array(people, np.float32), np.zeros((0, 5), np.float32)

    tracker = PoseTracker(detect, est.pose, fps=10., conf_thr=0.1)
    for t, img in enumerate(frames):
        r = tracker(img)
        assert r.track_ids.tolist() == [0, 1], (t, r.track_ids)
        # id 0 is the left dot, id 1 the right one
        assert r.keypoints[0, 0, 0] < r.keypoints[1, 0, 0]
        # found again near the right dot (the blob model's 17 keypoints
        # all lie on the dot, so its keypoint box is a dot: loose)
        np.testing.assert_allclose(r.keypoints[1, 0], (200 - 4 * t, 60),
                                   atol=15)


def _avi(path, n, size=(160, 120)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             size)
    for i in range(n):
        writer.write(dot_image((40 + 3 * i, 60), size, 3))
    writer.release()
    return path


def test_video_reader_with_opencv(tmp_path):
    data = bytearray(_avi(tmp_path / 'v.avi', 24).read_bytes())
    starts = [i for i in range(len(data) - 1)
              if data[i] == 0xFF and data[i + 1] == 0xD8]  # JPEG starts
    cut = tmp_path / 'cut.avi'
    cut.write_bytes(bytes(data[:starts[13]]))  # frames 0-12 and a header
    messages = []
    reader = VideoReader(cut, warn=messages.append)
    assert reader.backend == 'opencv' and reader.fps == 10
    assert [i for i, _ in reader] == list(range(13))
    assert reader.summary() == ('13 of 24 frames read, the stream ended '
                                'early')
    assert messages == ['cut.avi: the stream ended after 13 of the 24 '
                        'frames its header gives (frame 13 is missing: a '
                        'truncated file?)']
    data[starts[5] + 100:starts[6] - 100] = bytes(starts[6] - starts[5]
                                                  - 200)
    (tmp_path / 'bad.avi').write_bytes(bytes(data))
    reader = VideoReader(tmp_path / 'bad.avi', warn=messages.append)
    assert [i for i, _ in reader] == [i for i in range(24) if i != 5]
    assert 'bad.avi: frame 5 could not be decoded; skipped' in messages[-1]
    (tmp_path / 'junk.avi').write_bytes(b'not a video')
    with pytest.raises(ValueError, match='junk.avi is not a readable video'):
        VideoReader(tmp_path / 'junk.avi')


def run_cli(*args):
    proc = subprocess.run([str(CLI), *map(str, args)], capture_output=True,
                          text=True, timeout=120)
    assert 'Traceback' not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_cli_video_track_ids_interval_and_smoothing(pose_onnx, tmp_path):
    video = _avi(tmp_path / 'dot.avi', 12)
    boxes = {'dot.avi': [[[15 + 3 * i, 20, 65 + 3 * i, 100]]
                         for i in range(12)]}
    (tmp_path / 'boxes.json').write_text(json.dumps(boxes))
    out = tmp_path / 'out'
    code, log = run_cli('--input', video, '--pose-onnx', pose_onnx,
                        '--bboxes', tmp_path / 'boxes.json', '--smooth',
                        '--output-dir', out)
    assert code == 0, log
    assert 'dot.avi: 12 of 12 frames read' in log
    frames = json.loads((out / 'dot.json').read_text())
    assert [[p['track_id'] for p in f] for f in frames] == [[0]] * 12
    records = [json.loads(x) for x in
               (out / 'dot.jsonl').read_text().splitlines()]
    assert [r['instances'] for r in records] == frames
    assert all(r['detector'] for r in records)
    assert len(frames[0][0]['keypoints']) == 17
    code, log = run_cli('--input', video, '--pose-onnx', pose_onnx,
                        '--bboxes', tmp_path / 'boxes.json', '--tracker',
                        'none', '--no-render', '--output-dir', out)
    assert code == 0, log
    frames = json.loads((out / 'dot.json').read_text())
    assert all('track_id' not in p for f in frames for p in f)


def test_cli_real_clip_with_the_detector(pose_onnx, tmp_path):
    """The PoseTrack18 clip (1280x720, 5 frames) with YOLOX-Nano every 2nd
    frame: every person has an id, unique per frame."""
    clip = require_shared('data/video/000001_mpiinew_test.mp4')
    det = require_shared('weights/yolox_nano_coco.onnx')
    out = tmp_path / 'out'
    code, log = run_cli('--input', clip, '--pose-onnx', pose_onnx,
                        '--det-onnx', det, '--det-interval', 2,
                        '--pose-conf-thr', 0, '--no-render',
                        '--output-dir', out)
    assert code == 0, log
    records = [json.loads(x) for x in (out / '000001_mpiinew_test.jsonl'
                                       ).read_text().splitlines()]
    assert len(records) == 5 and records[0]['detector']
    assert [r['detector'] for r in records] == [True, False, True, False,
                                                True]
    for r in records:
        ids = [p['track_id'] for p in r['instances']]
        assert ids and len(set(ids)) == len(ids)
    # between detections each person is looked for in their own box: the
    # keypoints of frame 1 lie in the frame-0 box of the same track
    boxes = {p['track_id']: p['bbox'] for p in records[0]['instances']}
    for p in records[1]['instances']:
        x1, y1, x2, y2 = boxes[p['track_id']]
        x, y = np.mean(p['keypoints'], axis=0)
        assert x1 <= x <= x2 and y1 <= y <= y2


@pytest.mark.parametrize('args, message', [
    (['--tracker', 'pose'], '--tracker: for videos and webcams only; '),
    (['--smooth'], '--smooth: for videos and webcams only; '),
])
def test_cli_refuses_video_options_on_images(pose_onnx, tmp_path, args,
                                             message):
    img = tmp_path / 'a.png'
    cv2.imwrite(str(img), dot_image((50, 50)))
    (tmp_path / 'b.json').write_text('{}')
    code, log = run_cli('--input', img, '--pose-onnx', pose_onnx,
                        '--bboxes', tmp_path / 'b.json', *args,
                        '--output-dir', tmp_path / 'out')
    assert code == 1
    assert log.strip().splitlines()[-1] == (
        f'vitpose-runtime: {message}{img} is an image, whose people are '
        'found image by image')


def test_cli_bytetrack_without_the_library_is_one_line(pose_onnx, tmp_path):
    video = _avi(tmp_path / 'dot.avi', 3)
    (tmp_path / 'b.json').write_text('{}')
    code, log = run_cli('--input', video, '--pose-onnx', pose_onnx,
                        '--bboxes', tmp_path / 'b.json', '--tracker',
                        'bytetrack', '--output-dir', tmp_path / 'out')
    assert code == 1
    assert "tracker 'bytetrack' needs the trackers package" in \
        log.strip().splitlines()[-1]
