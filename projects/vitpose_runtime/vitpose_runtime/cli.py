"""Whole-image ViTPose with onnxruntime only: people, then keypoints.

Usage::

    vitpose-runtime --input PATH --pose-onnx POSE.onnx [POSE-int8.onnx] \\
        [--precision auto|fp32|int8] (--det-onnx YOLOX.onnx | --bboxes FILE) --output-dir DIR \\
        [--bbox-thr 0.3] [--kpt-thr 0.3] [--nms-thr 0.3] [--det-cat-id 0] \\
        [--batch-size N] [--flip-test | --no-flip-test] [--threads N] \\
        [--no-render] [--max-frames N] \\
        [--tracker pose|bytetrack|none] [--det-interval N] \\
        [--track-seconds S] [--smooth [--smooth-min-cutoff HZ] \\
        [--smooth-beta B]]

Input: an image, a folder of images (by file name; other files ignored), a
video (.mp4, .avi, .mov, .mkv) or a webcam index (``0``). POSE.onnx comes
from ``python -m vitpose_mm.tools.export_onnx`` (ViTPose, or one ViTPose+
expert: ``--dataset``); YOLOX.onnx is e.g. ``yolox_nano_coco.onnx``.

--pose-onnx may name several exports of one model in different precisions
(``export_onnx`` and ``export_onnx --int8``); --precision picks one:
``auto`` (the default with several files) the fastest this CPU runs with
keypoints within 0.5 px of fp32 (:mod:`vitpose_runtime.precision`; int8 on
x86 CPUs with AVX2 or better), printing which and why; ``fp32`` / ``int8``
that file. One file runs as it was exported.

--bboxes: JSON {"image file name": [[x1, y1, x2, y2(, score)], ...]} in
image pixels (a video's value holds one list of boxes per frame), or for
images a COCO detection-results list: the formats of
``python -m vitpose_mm.tools.demo --bboxes``, read by the same
:func:`vitpose_runtime.boxes.load_box_file`. Boxes scoring <= --bbox-thr
are dropped; boxes with no area or outside the image are dropped with a
message naming each.

Output in --output-dir, as ``python -m vitpose_mm.tools.demo`` writes it,
for an input NAME.EXT: NAME.json, a list of people {"bbox": [x1, y1, x2,
y2], "bbox_score": s, "keypoints": K x [x, y], "keypoint_scores": K} in
image pixels (a video or webcam: one such list per frame), and NAME.EXT
(videos and webcams: NAME.mp4) with boxes and skeletons drawn, unless
--no-render. A webcam is read until --max-frames or end of stream and
written as webcam<INDEX>.json / .mp4.

Videos and webcams: every person gets a "track_id" (int >= 0, kept while
they are visible or hidden up to --track-seconds, never reused), found by
the pose tracker of ``vitpose_runtime.tracking`` (--tracker pose, the
default; bytetrack: the trackers library's box tracker; none: no ids);
--det-interval N runs the detector every N-th frame (and when a person is
lost), boxes from the keypoints between; --smooth One-Euro filters each
tracked keypoint. NAME.jsonl holds one line per frame, {"frame": i,
"detector": true|false, "instances": [...]}, flushed as it is done.
Videos are read by ``vitpose_runtime.video`` (PyAV if installed, else
OpenCV): undecodable frames are skipped, and a stream that ends before
its header's frame count or changes frame size is reported, naming the
frame. These options on an image or a folder are refused.

Errors (a missing or foreign file, a bad box file) end with a one-line
message and exit status 1; an unreadable image in a folder is skipped with
a message and the exit status is 1.
"""
import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np

from .boxes import keep_valid_boxes, load_box_file
from .draw import render
from .estimator import Estimator, read_image, to_instances
from .inputs import CameraFrames, camera_index, list_inputs
from .pose import PoseModel
from .precision import choose_precision
from .video_options import (add_video_arguments, refuse_on_images,
                            tracker_options, video_options_error)
from .video import VideoReader

NO_BOXES = np.zeros((0, 5), np.float32)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (module docstring)."""
    p = argparse.ArgumentParser(
        prog='vitpose-runtime', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--input', required=True,
                   help='image, folder of images, video, or webcam index')
    p.add_argument('--pose-onnx', required=True, nargs='+',
                   help='pose model from vitpose_mm.tools.export_onnx (or '
                   'several precisions of it: see --precision)')
    p.add_argument('--precision', choices=['auto', 'fp32', 'int8'],
                   default=None,
                   help='which --pose-onnx file to run (default: auto with '
                   'several files, the one file as exported)')
    boxes = p.add_mutually_exclusive_group(required=True)
    boxes.add_argument('--det-onnx', help='YOLOX person detector (.onnx)')
    boxes.add_argument('--bboxes', help='JSON person boxes per file name')
    p.add_argument('--output-dir', required=True)
    p.add_argument('--bbox-thr', type=float, default=0.3)
    p.add_argument('--kpt-thr', type=float, default=0.3)
    p.add_argument('--nms-thr', type=float, default=0.3)
    p.add_argument('--det-cat-id', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=None,
                   help='crops per pose call (default: all of an image)')
    p.add_argument('--flip-test', action=argparse.BooleanOptionalAction,
                   default=None,
                   help="flip test (default: the exported config's)")
    p.add_argument('--threads', type=int, default=0,
                   help='onnxruntime threads (default: its choice)')
    p.add_argument('--no-render', action='store_true')
    p.add_argument('--max-frames', type=int, default=None,
                   help='stop a video or webcam after N frames')
    add_video_arguments(p)
    args = p.parse_args(argv)
    problem = video_options_error(args)
    if problem is not None:
        p.error(problem)
    return args


def pick_pose_onnx(paths: List[str], precision: Optional[str]) -> str:
    """The file of ``paths`` (``.onnx`` exports of one model) that runs in
    ``precision`` (``'auto'``: :func:`vitpose_runtime.precision.
    choose_precision`, printed with its reason; None: ``'auto'`` with
    several files, the one file as it is).

    Raises:
        ValueError: Two files of one precision, no file in ``precision``,
            or a file that is not a pose export (the message names it).
    """
    if precision is None and len(paths) == 1:
        return paths[0]
    precision = precision or 'auto'
    files = {}
    for path in paths:
        exported = PoseModel(path).precision
        if exported in files:
            raise ValueError(f'--pose-onnx {files[exported]} and {path} are '
                             f'both {exported}: give one file per precision')
        files[exported] = path
    if precision == 'auto':
        precision, why = choose_precision('onnxruntime', list(files))
        print(f'precision auto: {precision} ({why})', file=sys.stderr)
    if precision not in files:
        raise ValueError(f'--precision {precision}: no such --pose-onnx file'
                         f' (given: {", ".join(sorted(files))})')
    return files[precision]


class Runner:
    """One run of the CLI: boxes -> poses -> JSON and drawings."""

    def __init__(self, args: argparse.Namespace, names: List[str],
                 video: bool) -> None:
        self.args = args
        self.given = (load_box_file(args.bboxes, names, video)
                      if args.bboxes else None)
        self.estimator = Estimator(
            args.det_onnx, pick_pose_onnx(args.pose_onnx, args.precision),
            bbox_thr=args.bbox_thr,
            nms_thr=args.nms_thr, det_cat_id=args.det_cat_id,
            flip_test=args.flip_test, batch_size=args.batch_size,
            threads=args.threads)

    def process(self, img: np.ndarray, given, where: str):
        """(instances, drawn image or None) of one image."""
        if self.given is None:
            boxes = self.estimator.people(img)
        else:
            boxes = keep_valid_boxes(NO_BOXES if given is None else given,
                                     img.shape, where, self.args.bbox_thr)
        kpts, scores = self.estimator.pose(img, boxes)
        instances = to_instances(boxes, kpts, scores)
        drawn = None if self.args.no_render else render(
            img, instances, self.estimator.pose.meta, self.args.kpt_thr)
        return instances, drawn

    def run_images(self, files: List[Path], out_dir: Path) -> bool:
        """Process images; False if one could not be read."""
        ok = True
        for f in files:
            try:
                img = read_image(f)
            except ValueError as err:
                if len(files) == 1:
                    raise
                print(f'skipped: {err}', file=sys.stderr)
                ok = False
                continue
            given = (self.given or {}).get(f.name)
            instances, drawn = self.process(img, given, f.name)
            _write_json(out_dir / f'{f.stem}.json', instances)
            if drawn is not None:
                cv2.imwrite(str(out_dir / f.name), drawn)
        return ok

    def run_stream(self, source, stem: str, out_dir: Path) -> int:
        """Process a video or webcam frame by frame; the frame count."""
        args = self.args
        label = getattr(source, 'name', stem)
        given = (self.given or {}).get(label, [])
        if isinstance(source, int):
            camera = CameraFrames(source)
            fps, numbered, reader = camera.fps, camera.numbered(), None
        else:
            reader = VideoReader(source)
            fps, numbered = reader.fps, iter(reader)
        tracker = self.estimator.tracker(**tracker_options(args, fps))
        if self.given is not None:
            tracker.detect = None
        writer, per_frame = None, []
        limit = args.max_frames
        lines = open(out_dir / f'{stem}.jsonl', 'w', encoding='utf-8')
        try:
            for i, frame in numbered:
                if limit is not None and len(per_frame) >= limit:
                    break
                where = f'{label} frame {i}'
                boxes = None
                if self.given is not None:
                    boxes = keep_valid_boxes(
                        given[i] if i < len(given) else NO_BOXES,
                        frame.shape, where, args.bbox_thr)
                tracked = tracker(frame, boxes)
                instances = tracked.instances()
                per_frame.append(instances)
                lines.write(json.dumps(dict(frame=i,
                                            detector=tracked.detector,
                                            instances=instances)) + '\n')
                lines.flush()
                if not args.no_render:
                    drawn = render(frame, instances, self.estimator.pose.meta,
                                   args.kpt_thr)
                    if writer is None:
                        h, w = drawn.shape[:2]
                        writer = cv2.VideoWriter(
                            str(out_dir / f'{stem}.mp4'),
                            cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
                    if drawn.shape[:2] != (h, w):  # a resized frame
                        drawn = cv2.resize(drawn, (w, h))
                    writer.write(drawn)
        finally:
            lines.close()
            if writer is not None:
                writer.release()
            _write_json(out_dir / f'{stem}.json', per_frame)
        if reader is not None:
            print(f'{label}: {reader.summary()}', file=sys.stderr)
        return len(per_frame)


def _write_json(path: Path, obj) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the CLI; errors end in one line and exit status 1."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        index = camera_index(args.input)
        kind, items = (('webcam', [index]) if index is not None
                       else list_inputs(args.input))
        if kind in ('image', 'folder'):
            refuse_on_images(args, kind, 'videos and webcams')
        out_dir = Path(args.output_dir)
        if kind == 'folder' and out_dir.resolve() == items[0].parent.resolve():
            raise ValueError(f'--output-dir {out_dir} is the input folder')
        names = ([f'webcam{items[0]}'] if kind == 'webcam'
                 else [f.name for f in items])
        runner = Runner(args, names, video=kind in ('video', 'webcam'))
        out_dir.mkdir(parents=True, exist_ok=True)
        ok = True
        if kind == 'webcam':
            count = runner.run_stream(items[0], f'webcam{items[0]}', out_dir)
        elif kind == 'video':
            count = runner.run_stream(items[0], items[0].stem, out_dir)
        else:
            ok = runner.run_images(items, out_dir)
            count = len(items)
    except (ValueError, FileNotFoundError, ImportError) as err:
        print(f'vitpose-runtime: {err}', file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(f'{count} {"frames" if kind in ("video", "webcam") else "images"}'
          f' in {seconds:.2f} s; results in {out_dir}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
