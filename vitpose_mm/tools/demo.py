"""Whole-image pose estimation: person boxes, then ViTPose on every box.

Usage::

    python -m vitpose_mm.tools.demo --input PATH \\
        --pose-config CFG --pose-checkpoint CKPT \\
        (--det-config CFG --det-checkpoint CKPT | --bboxes FILE) \\
        --output-dir DIR [--device cpu] [--bbox-thr 0.3] [--kpt-thr 0.3] \\
        [--det-cat-id 0] [--nms-thr 0.3] [--batch-size N] [--no-render] \\
        [--precision fp32|bf16|fp16] [--eager] [--unsafe-pickle]

    # an ONNX file from vitpose_mm.tools.export_onnx carries its config
    python -m vitpose_mm.tools.demo --input PATH --pose-checkpoint M.onnx ...

Input: an image, a folder of images (processed by file name; other files
are ignored) or a video (.mp4, .avi, .mov, .mkv).

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
e.g. AVX-512 BF16 / AMX, or on GPUs). --eager runs the model as built.
A --pose-checkpoint ending in .onnx is run by onnxruntime on the CPU with
the config stored in the file (--pose-config optional; if given, it must
have the file's input size and keypoint count).

Checkpoints are read without unpickling (``torch.load(weights_only=True)``
or safetensors); mmengine training checkpoints, which also hold Python
objects, need --unsafe-pickle. The pose checkpoint may be in any layout
``vitpose_mm.checkpoint`` converts (ours, original ViTPose, mmpose, Hugging
Face); it must fit the pose config exactly.

Output in --output-dir, for an input named NAME.EXT:

- NAME.json: a list of people, each {"bbox": [x1, y1, x2, y2],
  "bbox_score": s, "keypoints": [[x, y], ...] (K), "keypoint_scores":
  [...] (K)}, image pixels; [] for an image without people. For a video,
  one list of people per frame.
- NAME.EXT (NAME.mp4 for a video): the input with boxes and skeletons
  drawn, keypoints scoring <= --kpt-thr left out; not with --no-render.

Errors (missing or unreadable input, a checkpoint that does not fit the
config, a bad box file) end the program with a one-line message and exit
status 1. An unreadable image in a folder is skipped with a message, the
others are processed, and the exit status is 1.
"""
import argparse
import logging
import time
from pathlib import Path
from typing import List, Optional

import cv2
import mmcv
import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from vitpose_mm.apis import (InputError, VideoFrames, detect_people,
                             estimate_poses, init_person_detector,
                             init_pose_model, keep_valid_boxes, list_inputs,
                             load_box_file, make_visualizer, read_image,
                             render, select_dataset, to_instances,
                             write_json)
from vitpose_mm.deploy.kernels import PRECISIONS

NO_BOXES = np.zeros((0, 5), dtype=np.float32)


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
                        help='image, folder of images, or video')
    parser.add_argument('--pose-config',
                        help='top-down pose config (file or pkg::path); '
                        'optional for an .onnx checkpoint')
    parser.add_argument('--pose-checkpoint', required=True,
                        help='pose checkpoint (.pth, .safetensors) or a '
                        'model exported by vitpose_mm.tools.export_onnx '
                        '(.onnx)')
    parser.add_argument('--det-config',
                        help='mmdet config, e.g. '
                        'mmdet::yolox/yolox_nano_8xb8-300e_coco.py')
    parser.add_argument('--det-checkpoint', help='mmdet checkpoint (.pth)')
    parser.add_argument('--bboxes',
                        help='JSON person boxes instead of a detector '
                        '(formats (a) and (b) above)')
    parser.add_argument('--output-dir', required=True,
                        help='folder for the JSON and rendered files')
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
        '(coco, aic, mpii, ap10k, apt36k, wholebody); default: the '
        "config's test_cfg.dataset")
    parser.add_argument('--precision', choices=list(PRECISIONS),
                        default='fp32',
                        help='compute precision of the pose model '
                        '(%(default)s); LayerNorm and heatmaps stay fp32')
    parser.add_argument('--eager', action='store_true',
                        help='run the pose model as built (plain PyTorch, '
                        'fp32) instead of the fast inference path')
    parser.add_argument('--no-render', action='store_true',
                        help='write the JSON files only')
    parser.add_argument('--unsafe-pickle', action='store_true',
                        help='read checkpoints holding Python objects '
                        'besides tensors (mmengine training checkpoints); '
                        'unpickling can run code: trusted files only')
    args = parser.parse_args(argv)
    has_det = (args.det_config is not None, args.det_checkpoint is not None)
    if args.bboxes is not None and any(has_det):
        parser.error('give either --bboxes or --det-config with '
                     '--det-checkpoint, not both')
    if args.bboxes is None and not all(has_det):
        parser.error('give --det-config and --det-checkpoint, or --bboxes')
    onnx = args.pose_checkpoint.lower().endswith('.onnx')
    if args.pose_config is None and not onnx:
        parser.error('--pose-config is needed (only .onnx checkpoints carry '
                     'their own config)')
    if args.eager and args.precision != 'fp32':
        parser.error(f'--precision {args.precision} runs on the fast path; '
                     'drop --eager')
    if args.device is None:
        args.device = ('cuda:0' if torch.cuda.is_available() and not onnx
                       else 'cpu')
    if onnx and (args.eager or args.precision != 'fp32'):
        parser.error('an .onnx pose checkpoint runs in fp32 with '
                     'onnxruntime: drop --eager / --precision')
    return args


def _log(msg: str, level: int = logging.INFO) -> None:
    print_log(msg, logger='current', level=level)


def describe_path(model) -> str:
    """How the pose model runs, for the log: 'fast path (fp32, onednn)',
    'eager (fp32)' or 'onnxruntime (fp32)'."""
    if hasattr(model, 'exported_dataset'):
        return 'onnxruntime (fp32)'
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
        if args.bboxes is not None:
            self.given = load_box_file(args.bboxes, names, video=video)
        else:
            self.detector = init_person_detector(
                args.det_config, args.det_checkpoint, args.device,
                args.unsafe_pickle)
        self.pose = init_pose_model(args.pose_config, args.pose_checkpoint,
                                    args.device, args.unsafe_pickle,
                                    fast=not args.eager,
                                    precision=args.precision)
        select_dataset(self.pose, args.dataset)
        _log(f'pose model: {describe_path(self.pose)}')
        self.visualizer = (None if args.no_render else
                           make_visualizer(self.pose.dataset_meta))
        self.num_people = 0

    def boxes(self, img: np.ndarray, given: Optional[np.ndarray],
              where: str) -> np.ndarray:
        """Valid (N, 5) person boxes of an image (detected or given)."""
        args = self.args
        if self.detector is not None:
            boxes = detect_people(self.detector, img, args.det_cat_id,
                                  args.bbox_thr, args.nms_thr)
        elif given is None:
            boxes = NO_BOXES
        else:
            boxes = given[given[:, 4] > args.bbox_thr]
        return keep_valid_boxes(boxes, img.shape, where)

    def process(self, img: np.ndarray, given: Optional[np.ndarray],
                where: str):
        """People of one image: (instances, rendered image or None)."""
        boxes = self.boxes(img, given, where)
        sample = None
        if len(boxes):
            sample = estimate_poses(self.pose, img, boxes,
                                    self.args.batch_size)
        elif self.detector is None and given is None:
            _log(f'{where}: no boxes in {self.args.bboxes}, so no person',
                 logging.WARNING)
        else:
            _log(f'{where}: no person found', logging.WARNING)
        self.num_people += len(boxes)
        vis = (None if self.visualizer is None else
               render(self.visualizer, img, sample, self.args.kpt_thr))
        return to_instances(sample), vis

    def run_images(self, files: List[Path], out_dir: Path) -> int:
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
                write_json(out_dir / f'{f.stem}.json', instances)
                if vis is not None:
                    mmcv.imwrite(vis, str(out_dir / f.name))
            if bar is not None:
                bar.update()
        if failed:
            raise InputError(f'{len(failed)} of {len(files)} images could '
                             f'not be read (first: {failed[0]})')
        return len(files)

    def run_video(self, path: Path, out_dir: Path) -> int:
        """Process a video frame by frame; return the frame count."""
        video = VideoFrames(path)
        given = (self.given or {}).get(path.name, [])
        writer = None
        if self.visualizer is not None:
            out_file = out_dir / f'{path.stem}.mp4'
            writer = cv2.VideoWriter(str(out_file),
                                     cv2.VideoWriter_fourcc(*'mp4v'),
                                     video.fps, video.size)
            if not writer.isOpened():
                raise InputError(f'cannot write video {out_file}')
        frames = []
        bar = ProgressBar(video.num_frames)
        try:
            for i, frame in enumerate(video):
                # None: no boxes given for this frame (or the detector).
                boxes = given[i] if i < len(given) else None
                instances, vis = self.process(frame, boxes,
                                              f'{path.name} frame {i}')
                frames.append(instances)
                if writer is not None:
                    writer.write(vis)
                bar.update()
        finally:
            if writer is not None:
                writer.release()
        write_json(out_dir / f'{path.stem}.json', frames)
        return len(frames)


def run(args: argparse.Namespace) -> None:
    """Run the demo; raise InputError on a bad input."""
    kind, files = list_inputs(args.input)
    out_dir = Path(args.output_dir)
    _check_outputs(files, out_dir)
    _check_device(args.device)
    demo = Demo(args, [f.name for f in files], video=kind == 'video')
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if kind == 'video':
        count = demo.run_video(files[0], out_dir)
        unit = 'frame'
    else:
        count = demo.run_images(files, out_dir)
        unit = 'image'
    seconds = time.perf_counter() - start
    _log(f'{count} {unit}(s), {demo.num_people} people, '
         f'{seconds / max(count, 1):.3f} s per {unit}; '
         f'results in {out_dir}')


def main(argv: Optional[List[str]] = None) -> None:
    """Command-line entry; exits with a one-line message on bad input."""
    args = parse_args(argv)
    try:
        run(args)
    except InputError as err:
        raise SystemExit(f'error: {err}') from None


if __name__ == '__main__':
    main()
