"""The demo on videos: track ids in every output, the detector interval,
smoothing, the time-per-stage summary, and videos that are truncated,
corrupt, change frame size or hold no people (issue 23, issue 20 item 6).

Videos are real frames: the composite clip of COCO people
(tests/apis/composite_video.py), the shared street clip, and COCO images
written as frames. The pose model is the seeded random tiny ViTPose of
test_demo.py (its keypoints are meaningless; ids, boxes and files are
not).
"""
import json
import struct

import cv2
import numpy as np
import pytest

from tests.apis.composite_video import make_clip
from tests.conftest import require_shared
from tests.tools.test_demo import (DET_CFG, IMG_A, _demo, _frame_shapes,
                                   _load, _logged, _pose_args,
                                   pose)  # noqa: F401


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _detector():
    return ['--det-config', DET_CFG, '--det-checkpoint',
            require_shared('weights/yolox_nano_coco_mmdet.pth')]


@pytest.fixture(scope='module')
def composite(tmp_path_factory):
    """The composite clip at 480x270, its first 30 frames (two people
    crossing, a third entering)."""
    clip = make_clip(require_shared('data/coco'), scale=0.5, num_frames=30)
    return clip.save(tmp_path_factory.mktemp('clip') / 'walk.mp4')


def test_video_people_get_track_ids_in_every_output(pose, composite,
                                                    tmp_path):  # noqa: F811
    out = tmp_path / 'out'
    with _logged() as lines:
        _demo('--input', composite, *_detector(), '--draw-bbox',
              *_pose_args(pose, out))
    records = _records(out / 'walk.jsonl')
    assert [r['frame'] for r in records] == list(range(30))
    assert all(r['detector'] is True for r in records)
    ids = [[p['track_id'] for p in r['instances']] for r in records]
    assert all(isinstance(i, int) and i >= 0 for f in ids for i in f)
    assert all(len(set(f)) == len(f) for f in ids)
    assert ids[0] == [0, 1]  # two people on the first frame
    assert len({i for f in ids for i in f}) <= 4
    assert _load(out / 'walk.json') == [r['instances'] for r in records]
    assert len(_frame_shapes(out / 'walk.mp4')) == 30
    summary = next(x for x in lines if 'frames/s' in x)
    assert 'walk.mp4: 30 of 30 frames read' in summary
    for stage in ('decode', 'detect', 'pose', 'track', 'render', 'write'):
        assert f'{stage} ' in summary


def test_det_interval_and_smoothing(pose, composite, tmp_path):  # noqa: F811
    _demo('--input', composite, *_detector(), '--no-render',
          *_pose_args(pose, tmp_path / 'every'))
    _demo('--input', composite, *_detector(), '--no-render',
          '--det-interval', 5, '--smooth', '--smooth-beta', 0.05,
          '--pose-conf-thr', 0,  # the random pose model is never sure
          *_pose_args(pose, tmp_path / 'interval'))
    every = _records(tmp_path / 'every' / 'walk.jsonl')
    records = _records(tmp_path / 'interval' / 'walk.jsonl')
    ran = [r['frame'] for r in records if r['detector']]
    # frame 0 and every 5th, plus frames where a person was lost
    assert set(range(0, 30, 5)) <= set(ran) and len(ran) < 30
    skipped = [r for r in records if not r['detector']]
    assert skipped and all(p['track_id'] >= 0 for r in skipped
                           for p in r['instances'])
    # the first frame passes the filter unchanged; later ones differ
    assert records[0]['instances'][0]['keypoints'] == \
        every[0]['instances'][0]['keypoints']


def test_tracker_none_writes_no_ids(pose, composite, tmp_path):  # noqa: F811
    _demo('--input', composite, *_detector(), '--no-render', '--tracker',
          'none', *_pose_args(pose, tmp_path / 'out'))
    records = _records(tmp_path / 'out' / 'walk.jsonl')
    assert records[0]['instances']
    assert all('track_id' not in p for r in records for p in r['instances'])


def test_given_boxes_of_a_video_get_ids(pose, tmp_path):  # noqa: F811
    img = cv2.imread(str(require_shared('data/coco') / IMG_A))
    video = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'),
                             10, (img.shape[1], img.shape[0]))
    for _ in range(4):
        writer.write(img)
    writer.release()
    a, b = [280, 45, 500, 380], [10, 20, 110, 220, 0.9]
    (tmp_path / 'boxes.json').write_text(json.dumps(
        {'clip.mp4': [[a], [], [a, b], [a, b]]}))
    _demo('--input', video, '--bboxes', tmp_path / 'boxes.json',
          '--no-render', *_pose_args(pose, tmp_path / 'out'))
    frames = _load(tmp_path / 'out' / 'clip.json')
    assert [[p['track_id'] for p in f] for f in frames] == \
        [[0], [], [0, 1], [0, 1]]  # A hidden one frame keeps id 0
    assert [p['bbox'] for p in frames[2]] == [a, b[:4]]


@pytest.mark.parametrize('flags', [['--tracker', 'pose'],
                                   ['--det-interval', '3'], ['--smooth']])
def test_video_options_on_images_are_refused(pose, tmp_path,
                                             flags):  # noqa: F811
    coco = require_shared('data/coco')
    (tmp_path / 'boxes.json').write_text('{}')
    for where, what in ((coco / IMG_A, 'an image'),
                        (coco, 'a folder of images')):
        with pytest.raises(SystemExit) as exc:
            _demo('--input', where, '--bboxes', tmp_path / 'boxes.json',
                  *flags, *_pose_args(pose, tmp_path / 'out'))
        msg = str(exc.value.code)
        assert msg.startswith(f'error: {flags[0]}: for videos and cameras '
                              f'only; {where} is {what}'), msg
        assert '\n' not in msg
    assert not (tmp_path / 'out').exists()


def _mjpeg_avi(path, frames, fps=10):
    """Write frames as an MJPEG AVI (each frame its own JPEG)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'),
                             fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def _coco_frames(n, size=(160, 120)):
    img = cv2.resize(cv2.imread(str(require_shared('data/coco') / IMG_A)),
                     size)
    return [np.roll(img, 2 * i, axis=1) for i in range(n)]


def _jpeg_starts(data):
    """Offsets of the JPEG start markers (one per MJPEG frame)."""
    return [i for i in range(len(data) - 1)
            if data[i] == 0xFF and data[i + 1] == 0xD8]


BOXES = [[20, 5, 120, 110]]


def _run_given(pose, video, tmp_path, boxes=None):  # noqa: F811
    n = 24
    (tmp_path / 'boxes.json').write_text(json.dumps(
        {video.name: boxes or [BOXES] * n}))
    with _logged() as lines:
        _demo('--input', video, '--bboxes', tmp_path / 'boxes.json',
              *_pose_args(pose, tmp_path / 'out'))
    return '\n'.join(lines)


def test_truncated_video_says_how_many_frames_were_read(
        pose, tmp_path):  # noqa: F811
    """An AVI cut after 13 of its 24 frames: a warning naming frame 13,
    the 13 frames in every output, and the summary says '13 of 24'."""
    data = _mjpeg_avi(tmp_path / 'full.avi', _coco_frames(24)).read_bytes()
    video = tmp_path / 'cut.avi'
    video.write_bytes(data[:_jpeg_starts(data)[13]])  # frames 0-12
    log = _run_given(pose, video, tmp_path)
    assert ('cut.avi: the stream ended after 13 of the 24 frames its '
            'header gives (frame 13 is missing') in log
    assert 'cut.avi: 13 of 24 frames read, the stream ended early' in log
    assert len(_load(tmp_path / 'out' / 'cut.json')) == 13
    assert len(_records(tmp_path / 'out' / 'cut.jsonl')) == 13
    assert len(_frame_shapes(tmp_path / 'out' / 'cut.mp4')) == 13


def test_corrupt_frame_is_skipped_and_the_track_goes_on(
        pose, tmp_path):  # noqa: F811
    data = bytearray(_mjpeg_avi(tmp_path / 'v.avi',
                                _coco_frames(24)).read_bytes())
    starts = _jpeg_starts(data)
    data[starts[5] + 200:starts[5] + 2000] = bytes(1800)  # frame 5's JPEG
    video = tmp_path / 'bad.avi'
    video.write_bytes(bytes(data))
    log = _run_given(pose, video, tmp_path)
    assert 'bad.avi: frame 5 could not be decoded; skipped' in log
    assert '23 of 24 frames read, 1 undecodable skipped (first: frame 5)' \
        in log
    records = _records(tmp_path / 'out' / 'bad.jsonl')
    assert [r['frame'] for r in records] == [i for i in range(24) if i != 5]
    assert {p['track_id'] for r in records for p in r['instances']} == {0}


def test_frame_size_change_is_seen(pose, tmp_path):  # noqa: F811
    """Frames 5-9 are half the size of frames 0-4: a warning naming frame
    5, and the later frames are used at their own size (a box beyond
    160x120 lies outside them), not stretched."""
    av = pytest.importorskip('av')
    from fractions import Fraction
    video = tmp_path / 'sizes.avi'
    container = av.open(str(video), 'w')
    stream = container.add_stream('mjpeg', rate=10)
    stream.time_base = Fraction(1, 10)
    stream.width, stream.height, stream.pix_fmt = 320, 240, 'yuvj420p'
    for i, f in enumerate(_coco_frames(5, (320, 240))
                          + _coco_frames(5, (160, 120))):
        packet = av.Packet(cv2.imencode('.jpg', f)[1].tobytes())
        packet.stream, packet.pts, packet.dts = stream, i, i
        container.mux(packet)
    container.close()
    boxes = [[[20, 5, 300, 230]]] * 5 + [[[200, 10, 300, 100]]] * 5
    log = _run_given(pose, video, tmp_path, boxes)
    assert 'sizes.avi: frame 5 is 160x120, the frames before it 320x240' \
        in log
    assert 'sizes.avi frame 5: skipped box 0 [200, 10, 300, 100]: lies ' \
        'outside the 160x120 image' in log
    frames = _load(tmp_path / 'out' / 'sizes.json')
    assert [len(f) for f in frames] == [1] * 5 + [0] * 5
    assert _frame_shapes(tmp_path / 'out' / 'sizes.mp4') == \
        [(240, 320, 3)] * 10  # the rendered video keeps its size


def test_video_without_people_and_the_real_street_clip(
        pose, tmp_path):  # noqa: F811
    blank = _mjpeg_avi(tmp_path / 'empty.avi',
                       [np.full((120, 160, 3), 90, np.uint8)] * 5)
    with _logged() as lines:
        _demo('--input', blank, *_detector(), '--no-render',
              *_pose_args(pose, tmp_path / 'e'))
    assert _load(tmp_path / 'e' / 'empty.json') == [[]] * 5
    assert 'empty.avi frame 4: no person found' in lines
    street = require_shared('data/video/demo.mp4')
    _demo('--input', street, *_detector(), '--no-render',
          *_pose_args(pose, tmp_path / 's'))
    records = _records(tmp_path / 's' / 'demo.jsonl')
    assert len(records) == 5 and all(r['instances'] for r in records)
    first = {p['track_id'] for p in records[0]['instances']}
    assert first == set(range(len(first)))  # ids from 0
    # people stay: most of frame 0's ids are there on frame 1 (5 fps)
    second = {p['track_id'] for p in records[1]['instances']}
    assert len(first & second) >= len(first) // 2


def test_zero_frame_rate_is_reported(tmp_path):
    """A header whose rate is 0 (FFmpeg's AVI reader already assumes 25
    for it) or absurd: a warning, 25 frames/s."""
    from vitpose_runtime.video import VideoReader

    class NoRate(VideoReader):
        def _open_opencv(self):
            super()._open_opencv()
            return 0.0

    video = _mjpeg_avi(tmp_path / 'v.avi', _coco_frames(3))
    messages = []
    reader = NoRate(video, warn=messages.append, backend='opencv')
    assert reader.fps == 25 and not reader.fps_known
    assert messages == ['v.avi: the file gives no usable frame rate (0); '
                        'timing it at 25 frames/s']
    assert len(list(reader)) == 3
    # the real header: 10 frames/s, no message
    data = bytearray(video.read_bytes())
    i = data.find(b'strh')
    assert struct.unpack('<II', data[i + 28:i + 36]) == (1, 10)
    assert VideoReader(video, warn=messages.append).fps == 10
    assert len(messages) == 1
