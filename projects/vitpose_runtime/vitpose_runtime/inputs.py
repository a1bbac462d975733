"""Inputs of whole-image inference: an image, a folder of images, a video,
a camera; shared by ``vitpose_mm.apis`` / ``vitpose_mm.tools.demo`` and this
runtime's CLI.

Every refusal is an :class:`InputError` (a ``ValueError``) with a one-line
message naming the offending path, so a command-line tool can print it
instead of a traceback from inside OpenCV. numpy, OpenCV and the standard
library only.
"""
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

#: File name suffixes (lower case) read as images.
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
#: File name suffixes (lower case) read as videos.
VIDEO_SUFFIXES = ('.mp4', '.avi', '.mov', '.mkv')


class InputError(ValueError):
    """A user input (file, folder, box, checkpoint) that cannot be used."""


def is_image_path(path: Path) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_SUFFIXES`."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_inputs(path: str) -> Tuple[str, List[Path]]:
    """Classify an input path and list the files to process.

    Args:
        path (str): An image file, a video file or a folder of images.

    Returns:
        tuple: ``(kind, files)`` where kind is ``'image'``, ``'folder'`` or
        ``'video'``; files holds the one image or video, or the folder's
        images (by suffix, not recursive) sorted by file name.

    Raises:
        InputError: The path does not exist, has an unknown suffix, or is a
            folder without images.
    """
    p = Path(path)
    if p.is_dir():
        images = sorted((f for f in p.iterdir()
                         if f.is_file() and is_image_path(f)),
                        key=lambda f: f.name)
        if not images:
            raise InputError(
                f'folder {path} holds no images (looked for '
                f'{", ".join(IMAGE_SUFFIXES)})')
        return 'folder', images
    if not p.exists():
        raise InputError(f'input {path} does not exist')
    if is_image_path(p):
        return 'image', [p]
    if p.suffix.lower() in VIDEO_SUFFIXES:
        return 'video', [p]
    raise InputError(
        f'input {path} is neither an image ({", ".join(IMAGE_SUFFIXES)}), '
        f'a video ({", ".join(VIDEO_SUFFIXES)}) nor a folder')


def camera_index(text: str) -> Optional[int]:
    """The camera index an ``--input`` names (``'webcam'`` is camera 0, a
    bare number is that camera), or None for a path."""
    if text == 'webcam':
        return 0
    return int(text) if text.isdigit() and not Path(text).exists() else None


class CameraFrames:
    """The frames of a camera (OpenCV ``VideoCapture(index)``), until it
    stops delivering or the caller stops iterating.

    Attributes:
        name (str): ``'webcam'`` for camera 0, else ``'camera<index>'``: the
            stem of the output files.
        fps (float): The camera's frame rate (25 when it reports none).
        num_frames (int): 0 (unknown).
        size (tuple): (width, height) of the first frame, in pixels.

    Raises:
        InputError: On construction, when the camera cannot be opened or
            delivers no frame.
    """

    def __init__(self, index: int):
        import cv2
        self.name = 'webcam' if index == 0 else f'camera{index}'
        self._cap = cv2.VideoCapture(index)
        ok, self._first = (self._cap.read() if self._cap.isOpened() else
                           (False, None))
        if not ok or self._first is None:
            self._cap.release()
            raise InputError(f'cannot open camera {index} (no such device, '
                             'or it delivers no frames)')
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps <= 1000 else 25.0
        self.frames_read = 0
        self.num_frames = 0
        self.size = (self._first.shape[1], self._first.shape[0])

    def numbered(self) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(frame number, (H, W, 3) uint8 BGR frame)``."""
        return enumerate(self)

    def summary(self) -> str:
        return f'{self.frames_read} frames read'

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 BGR frames; releases the camera at the
        end."""
        self.frames_read = 0
        try:
            frame = self._first
            while frame is not None:
                self.frames_read += 1
                yield frame
                ok, frame = self._cap.read()
                if not ok:
                    frame = None
        finally:
            self._cap.release()
