"""Whole-image pose estimation: person boxes, then ViTPose on every box.

Usage::

    python -m vitpose_mm.tools.demo --input PATH \\
        --pose-config CFG --pose-checkpoint CKPT \\
        (--det-config CFG --det-checkpoint CKPT | --bboxes FILE) \\
        --output-dir DIR [--device cpu] [--bbox-thr 0.3] [--kpt-thr 0.3] \\
        [--det-cat-id 0] [--nms-thr 0.3] [--batch-size N] [--no-render] \\
        [--precision fp32|bf16|fp16] [--eager] \\
        [--unsafe-pickle] [--unsafe-pickle-det] \\
        [--show] [--show-interval S] [--draw-bbox] [--draw-heatmap] \\
        [--show-kpt-idx] [--skeleton-style mmpose|openpose] \\
        [--radius 3] [--thickness 1] [--alpha 0.8]

    # a bottom-up config (model type BottomupPoseEstimator): no detector
    python -m vitpose_mm.tools.demo --input PATH --pose-config AE_CFG \\
        --pose-checkpoint CKPT --output-dir DIR [--bottom-up]

    # an ONNX file from vitpose_mm.tools.export_onnx carries its config
    python -m vitpose_mm.tools.demo --input PATH --pose-checkpoint M.onnx ...

Input: an image, a folder of images (processed by file name; other files
are ignored), a video (.mp4, .avi, .mov, .mkv), or a camera: ``--input
webcam`` (camera 0) or ``--input N`` (camera N), written as ``webcam.*`` /
``cameraN.*`` and processed until it stops or Ctrl-C. ``--output-root`` is
an alias of ``--output-dir`` (mmpose's name); ``--save-predictions`` is
accepted for mmpose's command lines (the JSON is always written).

People come from an mmdet detector (label --det-cat-id, score > --bbox-thr,
then NMS at --nms-thr) or, with --bboxes, from a JSON file in one of two
formats:

(a) {"image file name": [[x1, y1, x2, y2], [x1, y1, x2, y2, score], ...]}
    in image pixels; a box without a score gets score 1. For a video the
    value holds one list of boxes per frame:
    {"clip.mp4": [[[x1, y1, x2, y2], ...], [], ...]}.
(b) a COCO detection-results list, like mmpose's person detections of
    COCO val2017 (AP_H_56): [{"image_id": 785, "bbox": [x, y, w, h],
    "score": 0.99, "category_id": 1}, ...]; only category 1 (person) is
    used, and an image is matched when its file stem is its COCO id
    (000000000785.jpg -> 785).

A bottom-up pose config (mmpose's ``BottomupPoseEstimator``, e.g.
``configs/body_2d_keypoint/associative_embedding/``) needs no boxes: the
whole image goes through the model, people are grouped by the config's
decoder (associative embedding, DEKR or CID), and each person's "bbox" is
the box around its keypoints, "bbox_score" its group score; instances
scoring <= --bbox-thr are dropped. The config's model type decides;
--bottom-up only states it (and is refused with a top-down config).
--det-config / --bboxes are refused with a bottom-up model.

Given boxes with a score <= --bbox-thr are dropped, as are boxes with zero
or negative width or height, or outside the image (with a warning each).

All boxes of an image go through the pose model in one forward pass
(--batch-size N: N boxes per pass).

The pose model runs on the fast inference path by default
(``vitpose_mm.deploy.optimize_for_inference``: oneDNN-prepacked linear
layers on AVX-512 CPUs, fused GELU, BN folded into the head's
deconvolutions, channels-last head), in --precision (fp32 by default: heatmaps within 1e-4 of the eager
model; bf16 / fp16 keep LayerNorm, softmax accumulation and heatmaps in
float32, and are only faster on CPUs with native half-precision kernels,
e.g. AVX-512 BF16 / AMX, or on GPUs; --precision auto picks the fastest
precision this CPU runs with keypoints within 0.5 px of fp32 and logs which
and why: ``vitpose_runtime.precision``). --eager runs the model as built.

A --pose-checkpoint may also be released weights by model name (a Name or
Alias of model-index.yml, e.g. vitpose-b; its config is then the default
--pose-config) or an http(s) URL: downloaded once into $VITPOSE_MM_HOME
(default <torch hub dir>/vitpose_mm), sha256-checked, converted to our
layout once and cached; later runs make no network call
(vitpose_mm.hub).

A --pose-checkpoint ending in .onnx is run by onnxruntime on the CPU with
the config stored in the file (--pose-config optional; if given, it must
have the file's input size and keypoint count).

Checkpoints are read without unpickling (``torch.load(weights_only=True)``
or safetensors); the Python objects of mmengine training checkpoints are on
the allow-list of ``vitpose_mm.checkpoint.safe_globals``. Anything else is
refused unless trusted per file: --unsafe-pickle for the pose checkpoint
only, --unsafe-pickle-det for the detector checkpoint only. The pose
checkpoint may be in any layout
``vitpose_mm.checkpoint`` converts (ours, original ViTPose, mmpose, Hugging
Face); it must fit the pose config exactly.

Output in --output-dir, for an input named NAME.EXT:

- NAME.json: a list of people, each {"bbox": [x1, y1, x2, y2],
  "bbox_score": s, "keypoints": [[x, y], ...] (K), "keypoint_scores":
  [...] (K)}, image pixels; [] for an image without people. For a video
  or camera, one list of people per frame read (each person with
  "track_id" unless --tracker none), written when the run ends
  (also when interrupted). JSON files are written atomically.
- NAME.jsonl (video or camera): one line per frame, {"frame": i,
  "detector": true|false, "instances": [...]}, appended and flushed as
  each frame is done, so a run killed midway keeps every finished frame.
- NAME.EXT (NAME.mp4 for a video or camera): the input with skeletons
  drawn (mmpose's PoseLocalVisualizer: boxes with --draw-bbox, summed
  heatmaps stacked below with --draw-heatmap), keypoints scoring <=
  --kpt-thr left out; not with --no-render. Ctrl-C (or SIGTERM) stops a
  video cleanly: the mp4 is closed and playable.

Videos and cameras: every person gets a "track_id" (int >= 0, the same
while they are visible or hidden up to --track-seconds, never given to
anyone else) from ``vitpose_mm.apis.PoseTracker`` (--tracker pose, the
default: ByteTrack's association with the trackers library's Kalman
filter, OKS of the keypoints and pose-confirmed boxes; bytetrack: the
library's box tracker; none: no ids). --det-interval N runs the detector
on frame 0, every N-th frame and whenever a tracked person is lost; the
boxes between come from each person's previous keypoints. --smooth
One-Euro filters each tracked keypoint (--smooth-min-cutoff Hz,
--smooth-beta 1/px). Each NAME.jsonl record carries "detector": true|false.
A reader thread decodes ahead and a writer thread draws and records
(--sequential: all in one thread; --show draws in the main thread); the
run ends with a summary: frames read of the header's count, frames/s and
the time per frame of decode, detect, pose, track, render and write.
Videos are read by ``vitpose_runtime.video`` (PyAV if installed, else
OpenCV): an undecodable frame is skipped with a message naming it, and a
stream that ends early, changes frame size or gives no frame rate is
reported. --tracker / --det-interval / --smooth on an image or a folder
are refused.

--show displays each rendered image in a window (--show-interval seconds,
or until a key for single images; q or Esc stops).

Errors (missing or unreadable input, an output folder that is a file or
cannot be written, a checkpoint that does not fit the config, a bad box
file) end the program with a one-line message and exit status 1, before
any model is loaded where they can be known then. An unreadable image in a
folder is skipped with a message, the others are processed, and the exit
status is 1. An interrupted run exits with status 130.
"""
import argparse
import contextlib
import logging
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

import cv2
import mmcv
import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from vitpose_mm.apis import (CameraFrames, InputError, JsonLinesWriter,
                             PoseTracker, VideoFrames, camera_index,
                             detect_people, estimate_poses,
                             estimate_poses_bottomup, init_person_detector,
                             init_pose_model, keep_valid_boxes, list_inputs,
                             load_box_file, make_visualizer, read_image,
                             render, select_dataset, to_instances,
                             write_json)
from vitpose_mm.apis.video_pipeline import (FrameReader, FrameWriter,
                                            StageTimes)
from vitpose_mm.checkpoint.experts import RELEASED_DATASETS
from vitpose_mm.deploy.kernels import PRECISIONS
from vitpose_runtime.video_options import (add_video_arguments,
                                           refuse_on_images,
                                           tracker_options,
                                           video_options_error)

NO_BOXES = np.zeros((0, 5), dtype=np.float32)
#: The summary's note on the per-stage times of a threaded run.
THREADED = ' (decode, render and write in their own threads)'


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog='python -m vitpose_mm.tools.demo', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True,
                        help='image, folder of images, video, or a camera: '
                        'webcam (camera 0) or its index')
    parser.add_argument('--pose-config',
                        help='pose config (file or pkg::path), top-down or '
                        'bottom-up; '
                        'optional for an .onnx checkpoint')
    parser.add_argument('--pose-checkpoint', required=True,
                        help='pose checkpoint (.pth, .safetensors), a '
                        'model exported by vitpose_mm.tools.export_onnx '
                        '(.onnx), or released weights by model name '
                        '(model-index.yml; its config is the default '
                        '--pose-config) or URL: downloaded once into '
                        '$VITPOSE_MM_HOME, checked, converted, cached')
    parser.add_argument('--det-config',
                        help='mmdet config, e.g. '
                        'mmdet::yolox/yolox_nano_8xb8-300e_coco.py')
    parser.add_argument('--det-checkpoint', help='mmdet checkpoint (.pth)')
    parser.add_argument('--bottom-up', action='store_true',
                        help='the pose config is bottom-up (whole image, no '
                        'detector); the config decides, this only checks')
    parser.add_argument('--bboxes',
                        help='JSON person boxes instead of a detector '
                        '(formats (a) and (b) above)')
    parser.add_argument('--output-dir', '--output-root', dest='output_dir',
                        help='folder for the JSON and rendered files '
                        '(needed unless --show)')
    parser.add_argument('--save-predictions', action='store_true',
                        help='accepted for mmpose\'s command lines: the '
                        'JSON predictions are always written')
    parser.add_argument('--device',
                        help='torch device (default: cuda:0 if there is a '
                        'GPU and the pose checkpoint is not .onnx, else cpu)')
    parser.add_argument('--bbox-thr', type=float, default=0.3,
                        help='keep boxes scoring above this (%(default)s)')
    parser.add_argument('--nms-thr', type=float, default=0.3,
                        help='IoU of detector NMS (%(default)s)')
    parser.add_argument('--kpt-thr', type=float, default=0.3,
                        help='draw keypoints scoring above this '
                        '(%(default)s)')
    parser.add_argument('--det-cat-id', type=int, default=0,
                        help='detector label of a person (%(default)s)')
    parser.add_argument('--batch-size', type=_positive_int, default=None,
                        help='boxes per pose forward (default: all boxes of '
                        'an image)')
    parser.add_argument(
        '--dataset',
        help='ViTPose+ models: the dataset whose expert and head to use '
        f'(the released models: {", ".join(RELEASED_DATASETS)}); '
        "default: the config's test_cfg.dataset")
    parser.add_argument('--precision', choices=list(PRECISIONS) + ['auto'],
                        default='fp32',
                        help='compute precision of the pose model '
                        '(%(default)s); LayerNorm and heatmaps stay fp32; '
                        'auto: the fastest this CPU runs natively with '
                        'keypoints within 0.5 px of fp32 (it says which '
                        'and why)')
    parser.add_argument('--eager', action='store_true',
                        help='run the pose model as built (plain PyTorch, '
                        'fp32) instead of the fast inference path')
    parser.add_argument('--no-render', action='store_true',
                        help='write the JSON files only')
    parser.add_argument('--unsafe-pickle', action='store_true',
                        help='unpickle the POSE checkpoint even if it holds '
                        'Python objects outside the safe types (mmengine '
                        'training checkpoints do not need it); unpickling '
                        'can run code: trusted files only')
    parser.add_argument('--unsafe-pickle-det', action='store_true',
                        help='the same for the DETECTOR checkpoint only')
    add_video_arguments(parser.add_argument_group(
        'videos and cameras (see "Videos and cameras" above)'))
    video = parser.add_argument_group('throughput')
    video.add_argument('--sequential', action='store_true',
                       help='decode, infer and write in one thread (no '
                       'reader / writer threads)')
    draw = parser.add_argument_group('drawing (mmpose\'s demo options)')
    draw.add_argument('--show', action='store_true',
                      help='show the rendered images in a window')
    draw.add_argument('--show-interval', type=float, default=0,
                      help='seconds each image is shown (0: until a key '
                      'for images, one frame time for videos)')
    draw.add_argument('--draw-bbox', action='store_true',
                      help='draw the person boxes')
    draw.add_argument('--draw-heatmap', action='store_true',
                      help='stack the predicted heatmaps under the image '
                      '(PyTorch models)')
    draw.add_argument('--show-kpt-idx', action='store_true',
                      help='write each keypoint\'s index beside it')
    draw.add_argument('--skeleton-style', default='mmpose',
                      choices=['mmpose', 'openpose'],
                      help='skeleton style (openpose: COCO keypoints only)')
    draw.add_argument('--radius', type=_positive_int, default=3,
                      help='keypoint radius in pixels (%(default)s)')
    draw.add_argument('--thickness', type=_positive_int, default=1,
                      help='link thickness in pixels (%(default)s)')
    draw.add_argument('--alpha', type=float, default=0.8,
                      help='box opacity (%(default)s)')
    args = parser.parse_args(argv)
    onnx = args.pose_checkpoint.lower().endswith('.onnx')
    if args.pose_config is None and not onnx:
        from vitpose_mm.hub import WeightsError, config_of
        try:
            args.pose_config = config_of(args.pose_checkpoint)
        except WeightsError as err:
            parser.error(f'--pose-checkpoint: {err}')
    config_bottomup = (not onnx and args.pose_config is not None
                       and _config_is_bottomup(args.pose_config))
    if args.bottom_up and not config_bottomup:
        parser.error(f'--bottom-up: {args.pose_config or args.pose_checkpoint}'
                     ' is not a bottom-up model (its model type is not '
                     'BottomupPoseEstimator)')
    args.bottom_up = config_bottomup
    has_det = (args.det_config is not None, args.det_checkpoint is not None)
    if args.bottom_up and (any(has_det) or args.bboxes is not None):
        parser.error('a bottom-up pose model finds people itself: drop '
                     '--det-config / --det-checkpoint / --bboxes')
    if args.bboxes is not None and any(has_det):
        parser.error('give either --bboxes or --det-config with '
                     '--det-checkpoint, not both')
    if (not args.bottom_up and args.bboxes is None and not all(has_det)):
        parser.error('give --det-config and --det-checkpoint, or --bboxes '
                     '(or a bottom-up pose config)')
    if args.pose_config is None and not onnx:
        parser.error('--pose-config is needed (only .onnx checkpoints and '
                     'weights names carry their own config)')
    if args.eager and args.precision not in ('fp32', 'auto'):
        parser.error(f'--precision {args.precision} runs on the fast path; '
                     'drop --eager')
    if args.device is None:
        args.device = ('cuda:0' if torch.cuda.is_available() and not onnx
                       else 'cpu')
    if onnx and (args.eager or args.precision not in ('fp32', 'auto')):
        parser.error('an .onnx pose checkpoint runs in fp32 with '
                     'onnxruntime: drop --eager / --precision')
    if onnx and args.draw_heatmap:
        parser.error('--draw-heatmap needs a PyTorch pose model, not .onnx')
    if args.output_dir is None and not args.show:
        parser.error('give --output-dir (or --show)')
    if args.no_render and (args.show or args.draw_heatmap):
        parser.error('--no-render draws nothing: drop --show / '
                     '--draw-heatmap')
    if not 0 <= args.alpha <= 1:
        parser.error(f'--alpha must be in [0, 1], got {args.alpha}')
    problem = video_options_error(args)
    if problem is None and args.det_interval > 1 and args.bottom_up:
        problem = '--det-interval > 1 needs a top-down pose model'
    if problem is not None:
        parser.error(problem)
    return args


def _config_is_bottomup(path: str) -> bool:
    """Whether the pose config's model is mmpose's BottomupPoseEstimator
    (False when the config cannot be read: loading the model says why)."""
    from vitpose_mm.apis.models import load_config
    try:
        cfg = load_config(path)
    except InputError:
        return False  # reported with exit status 1 when the model loads
    return cfg.model.get('type') == 'BottomupPoseEstimator'


def _log(msg: str, level: int = logging.INFO) -> None:
    print_log(msg, logger='current', level=level)


def describe_path(model) -> str:
    """How the pose model runs, for the log: 'fast path (fp32, onednn)',
    'eager (fp32)' or 'onnxruntime (fp32)'."""
    if hasattr(model, 'exported_dataset'):
        return f'onnxruntime ({model.exported_precision})'
    cfg = getattr(model, 'deploy_cfg', None)
    if cfg is None:
        return 'eager (fp32)'
    return f"fast path ({cfg['precision']}, {cfg['backend']})"


def _check_device(device: str) -> None:
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f'--device {device} is not a torch device'
                         ) from None
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise InputError(f'--device {device}: CUDA is not available')
    if dev.type not in ('cpu', 'cuda'):
        # 'meta' holds no values (mmengine's load raises
        # NotImplementedError), others have no kernels for the demo's ops
        raise InputError(f'--device {device}: the demo runs on cpu or cuda, '
                         f'not {dev.type}')


def check_output_dir(out_dir: Path) -> None:
    """Prove ``out_dir`` can be created and written (a probe file in it, or
    in its nearest existing parent), before any model is loaded; nothing
    is created.

    Raises:
        InputError: One line when it, or a parent, is a file, or it cannot
            be written.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f'--output-dir {out_dir} is a file, not a folder')
    existing = out_dir.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f'--output-dir {out_dir}: its parent {existing} '
                         'is a file')
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise InputError(f'--output-dir {out_dir} cannot be written '
                         f'({existing}: {err.strerror})') from None


def _check_outputs(files: List[Path], out_dir: Path) -> None:
    """Refuse outputs that would overwrite inputs or one another."""
    if out_dir.resolve() == files[0].parent.resolve():
        raise InputError(f'--output-dir {out_dir} is the input folder: '
                         'rendered files would overwrite the inputs')
    seen = {}
    for f in files:
        if f.stem in seen:
            raise InputError(f'{seen[f.stem].name} and {f.name} would both '
                             f'write {f.stem}.json')
        seen[f.stem] = f


class Demo:
    """Boxes -> poses -> JSON and rendering, for one run of the CLI."""

    def __init__(self, args: argparse.Namespace, names: List[str],
                 video: bool):
        self.args = args
        self.given = None
        self.detector = None
        if args.bottom_up:
            pass  # the pose model finds the people
        elif args.bboxes is not None:
            self.given = load_box_file(args.bboxes, names, video=video)
        else:
            # trust is per file: the pose flag does not reach the detector
            self.detector = init_person_detector(
                args.det_config, args.det_checkpoint, args.device,
                args.unsafe_pickle_det)
        self.pose = init_pose_model(args.pose_config, args.pose_checkpoint,
                                    args.device, args.unsafe_pickle,
                                    fast=not args.eager,
                                    precision=args.precision)
        select_dataset(self.pose, args.dataset)
        _log(f'pose model: {describe_path(self.pose)}')
        if args.draw_heatmap:
            # mmpose's heads return heatmaps in pred_fields when asked
            self.pose.test_cfg = dict(self.pose.test_cfg or {},
                                      output_heatmaps=True)
        self.visualizer = (None if args.no_render else make_visualizer(
            self.pose.dataset_meta, radius=args.radius,
            line_width=args.thickness, alpha=args.alpha,
            skeleton_style=args.skeleton_style))
        self.num_people = 0
        self.stopped = False  # q / Esc in the --show window

    def show(self, vis: Optional[np.ndarray], video: bool) -> None:
        """Show ``vis`` (--show); q or Esc sets :attr:`stopped`."""
        if not self.args.show or vis is None:
            return
        try:
            cv2.imshow('vitpose_mm', vis)
            wait = self.args.show_interval or (0.04 if video else 0)
            key = cv2.waitKey(max(int(wait * 1000), 1) if wait else 0)
        except cv2.error as err:
            raise InputError(f'--show cannot open a window: {err.msg}'
                             ) from None
        if key & 0xFF in (ord('q'), 27):
            self.stopped = True

    def boxes(self, img: np.ndarray, given: Optional[np.ndarray],
              where: str) -> np.ndarray:
        """Valid (N, 5) person boxes of an image (detected or given)."""
        args = self.args
        if self.detector is not None:
            boxes = detect_people(self.detector, img, args.det_cat_id,
                                  args.bbox_thr, args.nms_thr)
            return keep_valid_boxes(boxes, img.shape, where)
        return keep_valid_boxes(NO_BOXES if given is None else given,
                                img.shape, where, args.bbox_thr)

    def process(self, img: np.ndarray, given: Optional[np.ndarray],
                where: str):
        """People of one image: (instances, rendered image or None)."""
        sample = None
        if self.args.bottom_up:
            sample = estimate_poses_bottomup(self.pose, img,
                                             self.args.bbox_thr)
            if sample is None:
                boxes = NO_BOXES
                _log(f'{where}: no person found', logging.WARNING)
            else:
                boxes = sample.pred_instances.bboxes
        elif len(boxes := self.boxes(img, given, where)):
            sample = estimate_poses(self.pose, img, boxes,
                                    self.args.batch_size)
        elif self.detector is None and given is None:
            _log(f'{where}: no boxes in {self.args.bboxes}, so no person',
                 logging.WARNING)
        else:
            _log(f'{where}: no person found', logging.WARNING)
        self.num_people += len(boxes)
        args = self.args
        vis = (None if self.visualizer is None else render(
            self.visualizer, img, sample, args.kpt_thr,
            draw_bbox=args.draw_bbox, show_kpt_idx=args.show_kpt_idx,
            skeleton_style=args.skeleton_style,
            draw_heatmap=args.draw_heatmap))
        return to_instances(sample), vis

    def run_images(self, files: List[Path], out_dir: Optional[Path]) -> int:
        """Process images; return their number.

        Raises:
            InputError: The one input image, or any image of a folder (after
                the others are done), cannot be read.
        """
        bar = ProgressBar(len(files)) if len(files) > 1 else None
        failed = []
        for f in files:
            try:
                img = read_image(f)
            except InputError as err:
                if len(files) == 1:
                    raise
                _log(f'skipped: {err}', logging.WARNING)
                failed.append(f.name)
            else:
                given = (self.given or {}).get(f.name)
                instances, vis = self.process(img, given, f.name)
                if out_dir is not None:
                    write_json(out_dir / f'{f.stem}.json', instances)
                    if vis is not None:
                        mmcv.imwrite(vis, str(out_dir / f.name))
                self.show(vis, video=False)
            if bar is not None:
                bar.update()
            if self.stopped:
                break
        if failed:
            raise InputError(f'{len(failed)} of {len(files)} images could '
                             f'not be read (first: {failed[0]})')
        return len(files)

    def make_tracker(self, fps: float) -> PoseTracker:
        """The frame-by-frame people finder of a video (--tracker,
        --det-interval, --smooth ...)."""
        args = self.args
        return PoseTracker(
            self.pose, self.detector, bbox_thr=args.bbox_thr,
            nms_thr=args.nms_thr, det_cat_id=args.det_cat_id,
            batch_size=args.batch_size, top_down=not args.bottom_up,
            **tracker_options(args, fps))

    def _frame_people(self, tracker, frame, given, where):
        """One frame through the tracker: given boxes are checked first
        (bad ones skipped with a message), a bottom-up model finds the
        people itself."""
        if self.args.bottom_up:
            sample = estimate_poses_bottomup(self.pose, frame,
                                             self.args.bbox_thr)
            if sample is None:
                boxes = NO_BOXES
                poses = (np.zeros((0, 0, 2)), np.zeros((0, 0)))
            else:
                pred = sample.pred_instances
                boxes = np.concatenate(
                    [pred.bboxes, pred.bbox_scores[:, None]], axis=1)
                poses = (pred.keypoints, pred.keypoint_scores)
            return tracker(frame, boxes, poses)
        if self.detector is None:
            if given is None:
                given = NO_BOXES
            given = keep_valid_boxes(given, frame.shape, where,
                                     self.args.bbox_thr)
        return tracker(frame, given)

    def run_video(self, video, name: str, out_dir: Optional[Path]) -> int:
        """Process a video (or camera) frame by frame; return the frame
        count.

        A reader thread decodes ahead and a writer thread draws and
        records each frame (unless --sequential or --show). Each frame's
        people are appended to ``NAME.jsonl`` as soon as the writer has
        them; ``NAME.json`` (all frames recorded) is written at the end,
        also when the run is interrupted (the interrupt is re-raised after
        the files are closed).

        Args:
            video (VideoFrames | CameraFrames): The frames.
            name (str): The input's file name (for given boxes, messages).
            out_dir (Path, optional): Output folder; None writes nothing.
        """
        args = self.args
        stem = Path(name).stem
        given = (self.given or {}).get(name, [])
        tracker = self.make_tracker(video.fps)
        times = self.times = StageTimes()
        tracker.detect = (tracker.detect and times.timed('detect',
                                                         tracker.detect))
        tracker.estimate = (tracker.estimate and times.timed(
            'pose', tracker.estimate))
        threaded = not (args.sequential or args.show)
        record = _VideoRecord(self, out_dir, stem, video.fps, times)
        writer = FrameWriter(record.write, threaded=threaded)
        reader = FrameReader(video.numbered(), times, threaded=threaded)
        bar = ProgressBar(video.num_frames)
        self.frames_done = 0
        try:
            for i, frame in reader:
                start = time.perf_counter()
                where = f'{name} frame {i}'
                tracked = self._frame_people(
                    tracker, frame, given[i] if i < len(given) else None,
                    where)
                spent = time.perf_counter() - start
                # the tracker's own share: its time less the models'
                times.add('track', spent)
                if not len(tracked):
                    _log(f'{where}: no person found', logging.WARNING)
                self.num_people += len(tracked)
                item = (i, frame, tracked, tracker.to_sample(tracked))
                if threaded:
                    writer.put(item)
                else:
                    with _interrupts_deferred():
                        writer.put(item)
                    self.show(record.last_vis, video=True)
                self.frames_done += 1
                bar.update()
                if self.stopped:
                    break
        finally:
            reader.close()
            try:
                writer.close()
            finally:
                record.close()
        times.seconds['track'] -= (times.seconds['detect']
                                   + times.seconds['pose'])
        return record.count

    @staticmethod
    def _video_writer(path: Path, fps: float, first: np.ndarray):
        height, width = first.shape[:2]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'),
                                 fps, (width, height))
        if not writer.isOpened():
            raise InputError(f'cannot write video {path}')
        return writer


class _VideoRecord:
    """Draws and records the frames of one video (in the writer thread):
    NAME.jsonl line by line, NAME.mp4 frame by frame, NAME.json at the
    end. A frame is in all of them or in none."""

    def __init__(self, demo: Demo, out_dir: Optional[Path], stem: str,
                 fps: float, times: StageTimes) -> None:
        self.demo, self.out_dir, self.stem = demo, out_dir, stem
        self.fps, self.times = fps, times
        self.lines = (None if out_dir is None else
                      JsonLinesWriter(out_dir / f'{stem}.jsonl'))
        self.video = None
        self.frames: List[list] = []
        self.last_vis = None
        self.tracking = demo.args.tracker != 'none'

    @property
    def count(self) -> int:
        return len(self.frames)

    def write(self, item) -> None:
        index, frame, tracked, sample = item
        args = self.demo.args
        start = time.perf_counter()
        vis = None
        if self.demo.visualizer is not None:
            vis = render(self.demo.visualizer, frame, sample, args.kpt_thr,
                         draw_bbox=args.draw_bbox,
                         show_kpt_idx=args.show_kpt_idx,
                         skeleton_style=args.skeleton_style,
                         draw_heatmap=args.draw_heatmap)
        self.last_vis = vis
        mid = time.perf_counter()
        self.times.add('render', mid - start)
        instances = tracked.instances()
        self.frames.append(instances)
        if self.lines is not None:
            self.lines.write(dict(frame=index, detector=tracked.detector,
                                  instances=instances))
        if vis is not None and self.out_dir is not None:
            if self.video is None:  # sized by the first drawing
                self.video = Demo._video_writer(
                    self.out_dir / f'{self.stem}.mp4', self.fps, vis)
                self.video_size = (vis.shape[1], vis.shape[0])
            if (vis.shape[1], vis.shape[0]) != self.video_size:
                vis = cv2.resize(vis, self.video_size)  # a resized frame
            self.video.write(vis)
        self.times.add('write', time.perf_counter() - mid)

    def close(self) -> None:
        if self.video is not None:
            self.video.release()
        if self.lines is not None:
            self.lines.close()
            write_json(self.out_dir / f'{self.stem}.json', self.frames)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold back SIGINT / SIGTERM inside the block and raise
    KeyboardInterrupt after it, so a video frame is recorded in the JSON,
    the JSON Lines file and the mp4 alike, or in none of them. Outside the
    main thread (where handlers cannot be set) the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(
            signum, lambda num, frame: caught.append(num))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler not set from Python; the default stands in.
            signal.signal(signum,
                          signal.SIG_DFL if handler is None else handler)
    if caught:
        raise KeyboardInterrupt


def _interrupt_on_sigterm() -> None:
    """Make SIGTERM stop the run like Ctrl-C (outputs closed cleanly)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> None:
    """Run the demo; raise InputError on a bad input."""
    camera = camera_index(args.input)
    if camera is None:
        kind, files = list_inputs(args.input)
        if kind != 'video':
            try:
                refuse_on_images(args, kind)
            except ValueError as err:
                raise InputError(str(err)) from None
    out_dir = None if args.output_dir is None else Path(args.output_dir)
    if out_dir is not None:
        if camera is None:
            _check_outputs(files, out_dir)
        check_output_dir(out_dir)
    _check_device(args.device)
    if camera is not None:
        video = CameraFrames(camera)
        kind, name = 'video', f'{video.name}.mp4'
    elif kind == 'video':
        video, name = VideoFrames(files[0]), files[0].name
    demo = Demo(args, [name] if kind == 'video' else
                [f.name for f in files], video=kind == 'video')
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if kind == 'video':
        try:
            count = demo.run_video(video, name, out_dir)
        finally:
            seconds = time.perf_counter() - start
            done = getattr(demo, 'frames_done', 0)
            _log(f'{name}: {video.summary()}; {done} frame(s) processed in '
                 f'{seconds:.1f} s, {done / max(seconds, 1e-9):.2f} '
                 f'frames/s; time per frame: '
                 f'{demo.times.report(done) if done else "-"}'
                 f'{"" if args.sequential or args.show else THREADED}')
        unit = 'frame'
    else:
        count = demo.run_images(files, out_dir)
        unit = 'image'
    seconds = time.perf_counter() - start
    _log(f'{count} {unit}(s), {demo.num_people} people, '
         f'{seconds / max(count, 1):.3f} s per {unit}; '
         f'results in {out_dir}')


def main(argv: Optional[List[str]] = None) -> None:
    """Command-line entry; exits with a one-line message on bad input, and
    with status 130 when interrupted (Ctrl-C or SIGTERM)."""
    args = parse_args(argv)
    _interrupt_on_sigterm()
    try:
        run(args)
    except InputError as err:
        raise SystemExit(f'error: {err}') from None
    except KeyboardInterrupt:
        print('interrupted: the outputs written so far are complete',
              file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if args.show:
            cv2.destroyAllWindows()


if __name__ == '__main__':
    main()
