"""Inputs of whole-image inference: an image, a folder of images, a video,
a camera.

All readers raise :class:`InputError` (a ``ValueError``) with a one-line
message naming the offending path, so a command-line tool can print it
instead of a traceback from inside OpenCV or mmcv. The numpy / OpenCV
parts (the suffixes, :func:`list_inputs`, :func:`camera_index`,
:class:`CameraFrames`, :class:`InputError`) are shared with the torch-free
runtime and live there (:mod:`vitpose_runtime.inputs`); images are read
here with mmcv, as mmpose's ``LoadImage`` reads them.
"""
from pathlib import Path
from typing import Iterator, Tuple

import mmcv
import numpy as np
from vitpose_runtime.inputs import (IMAGE_SUFFIXES, VIDEO_SUFFIXES,
                                    CameraFrames, InputError, camera_index,
                                    is_image_path, list_inputs)

__all__ = [
    'IMAGE_SUFFIXES', 'VIDEO_SUFFIXES', 'CameraFrames', 'InputError',
    'VideoFrames', 'camera_index', 'is_image_path', 'list_inputs',
    'read_image', 'warn'
]


def read_image(path: Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 BGR array.

    Raises:
        InputError: The file is missing, empty, not an image or corrupt.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f'cannot read {path}: {err.strerror}') from None
    try:
        img = mmcv.imfrombytes(data, flag='color', channel_order='bgr')
    except Exception as err:  # decoders raise many types on bad data
        raise InputError(f'{path} is not a readable image ({err})') from None
    if img is None or img.size == 0:
        raise InputError(f'{path} is not a readable image (empty, corrupt '
                         'or not an image file)')
    return img


class VideoFrames:
    """The frames of a video file, read in order
    (:class:`vitpose_runtime.video.VideoReader`: PyAV where installed,
    else OpenCV).

    Each frame comes at its own size; a frame that cannot be decoded is
    skipped and the frames after it are read on; a stream that ends
    before its header's frame count, a frame size that changes and a
    missing frame rate each get a one-line warning naming the frame.

    Attributes:
        fps (float): Frames per second from the file header (25 when the
            header gives none, with a warning).
        num_frames (int): Frame count from the header (0: unknown); only a
            hint for the progress bar, iteration stops at the stream's end.
        size (tuple): (width, height) of the first frame, in pixels.
        reader (VideoReader): Counts of the frames read and skipped
            (``frames_read``, ``skipped``, ``ended_early``, ``summary()``).

    Raises:
        InputError: On construction, when the file cannot be opened as a
            video or no frame can be decoded.
    """

    def __init__(self, path: Path):
        from vitpose_runtime.video import VideoReader
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f'cannot open video {path}: no such file')
        try:
            self.reader = VideoReader(self.path, warn=warn)
        except ValueError as err:
            raise InputError(str(err)) from None
        self.fps = self.reader.fps
        self.num_frames = self.reader.num_frames
        self.size = self.reader.size

    def numbered(self) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(frame number, (H, W, 3) uint8 BGR frame)``; numbers
        count skipped frames too."""
        return iter(self.reader)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 BGR frames."""
        return (frame for _, frame in self.reader)

    def summary(self) -> str:
        """'N of M frames read' (and the skipped or missing ones)."""
        return self.reader.summary()


def warn(msg: str) -> None:
    """A one-line warning through mmengine's logger (the ``warn`` of the
    shared :mod:`vitpose_runtime` helpers)."""
    import logging

    from mmengine.logging import print_log
    print_log(msg, logger='current', level=logging.WARNING)
