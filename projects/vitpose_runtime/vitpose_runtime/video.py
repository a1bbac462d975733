"""Video frames, read robustly: each frame at its own size, undecodable
frames skipped, and the reader says how many frames it read.

:class:`VideoReader` decodes with PyAV (FFmpeg's libraries, ``pip install
av``) where it is installed, else with OpenCV's ``VideoCapture``:

- PyAV gives every frame at its real size, so a stream whose frame size
  changes is seen (OpenCV scales every frame to the first frame's size,
  without a word: people found there lie outside the real frame), and a
  frame whose data cannot be decoded is skipped with a message while the
  frames after it are read on;
- both end at the stream's end and compare the frames read with the
  header's frame count: a stream that ends early (a truncated file) gets a
  message naming the first frame that is missing;
- a missing, zero or absurd frame rate in the header is reported, and 25
  frames/s assumed.

Messages go to ``warn`` (one line each, naming the file and the frame).
"""
import math
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

#: Frames per second assumed when the file gives none.
DEFAULT_FPS = 25.0
#: Frame rates above this are taken as header garbage.
MAX_FPS = 1000.0


def _print(msg: str) -> None:
    import sys
    print(msg, file=sys.stderr)


class VideoReader:
    """The frames of one video file, in order (module docstring).

    Args:
        path (str | Path): The file.
        warn (callable): Gets each one-line message (default: stderr).
        backend (str, optional): 'pyav' or 'opencv'; default PyAV when it
            is installed.

    Attributes:
        fps (float): Frames per second (:data:`DEFAULT_FPS` when the
            header gives none; then ``fps_known`` is False).
        num_frames (int): The header's frame count (0: unknown).
        size (tuple): (width, height) of the first frame, pixels.
        frames_read (int): Frames yielded so far.
        skipped (list[int]): Frames that could not be decoded.
        ended_early (bool): The stream ended before ``num_frames`` frames.
        backend (str): 'pyav' or 'opencv'.

    Raises:
        ValueError: The file cannot be opened as a video, has no video
            stream, or no frame can be decoded (the message names it).
    """

    def __init__(self, path, warn: Callable[[str], None] = _print,
                 backend: Optional[str] = None) -> None:
        self.path, self.name = Path(path), Path(path).name
        self.warn = warn
        if backend is None:
            try:
                import av  # noqa: F401
                backend = 'pyav'
            except ImportError:
                backend = 'opencv'
        if backend not in ('pyav', 'opencv'):
            raise ValueError(f'video backend {backend!r}: pyav or opencv')
        self.backend = backend
        self.frames_read = 0
        self.skipped: List[int] = []
        self.ended_early = False
        fps = (self._open_pyav() if backend == 'pyav' else
               self._open_opencv())
        self.fps_known = bool(math.isfinite(fps) and 0 < fps <= MAX_FPS)
        self.fps = float(fps) if self.fps_known else DEFAULT_FPS
        if not self.fps_known:
            warn(f'{self.name}: the file gives no usable frame rate '
                 f'({fps:g}); timing it at {DEFAULT_FPS:g} frames/s')
        self._frames = self._iter_frames()
        try:
            self._first = next(self._frames)
        except StopIteration:
            self.close()
            raise ValueError(f'{path} is not a readable video (no frame '
                             'could be decoded)') from None
        self.size = (self._first[1].shape[1], self._first[1].shape[0])

    # ---------------------------------------------------------- opening --
    def _open_pyav(self) -> float:
        import av
        try:
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as err:
            self._container = None
            raise ValueError(f'{self.path} is not a readable video '
                             f'({type(err).__name__}: {err})') from None
        self._stream.thread_type = 'AUTO'
        self.num_frames = int(self._stream.frames or 0)
        rate = self._stream.average_rate or self._stream.guessed_rate
        return float(rate) if rate else 0.0

    def _open_opencv(self) -> float:
        import cv2
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ValueError(f'{self.path} is not a readable video (OpenCV '
                             'cannot open it)')
        self.num_frames = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)),
                              0)
        return float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)

    # --------------------------------------------------------- decoding --
    def _iter_frames(self) -> Iterator[Tuple[int, np.ndarray]]:
        decode = (self._decode_pyav if self.backend == 'pyav' else
                  self._decode_opencv)
        index = 0
        for frame in decode():
            if frame is None:
                self.skipped.append(index)
                self.warn(f'{self.name}: frame {index} could not be '
                          'decoded; skipped (the frames after it are read '
                          'on)')
            else:
                yield index, frame
            index += 1
        if self.num_frames and index < self.num_frames:
            self.ended_early = True
            self.warn(f'{self.name}: the stream ended after {index} of the '
                      f'{self.num_frames} frames its header gives (frame '
                      f'{index} is missing: a truncated file?)')

    def _decode_pyav(self) -> Iterator[Optional[np.ndarray]]:
        import av
        for packet in self._container.demux(self._stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                if packet.size:  # a packet of data the decoder refused
                    yield None
                continue
            for frame in frames:
                yield frame.to_ndarray(format='bgr24')

    def _decode_opencv(self) -> Iterator[Optional[np.ndarray]]:
        failed = 0  # reads that failed since the last frame
        while True:
            ok, frame = self._cap.read()
            if ok and frame is not None:
                yield from [None] * failed  # undecodable frames between
                failed = 0
                yield frame
            elif failed < 3 and self._cap.get(1) < self.num_frames:
                failed += 1  # CAP_PROP_POS_FRAMES: the header has more
            else:
                return

    # ------------------------------------------------------------ frames --
    def __iter__(self) -> Iterator[Tuple[int, np.ndarray]]:
        """Yield ``(frame number, (H, W, 3) uint8 BGR frame)``; numbers
        count skipped frames too. A frame of another size than the one
        before gets a message. Closes the file at the end."""
        last = self.size
        try:
            first, self._first = self._first, None
            frames = self._frames if first is None else _chain(
                first, self._frames)
            for index, frame in frames:
                size = (frame.shape[1], frame.shape[0])
                if size != last:
                    self.warn(f'{self.name}: frame {index} is {size[0]}x'
                              f'{size[1]}, the frames before it '
                              f'{last[0]}x{last[1]}; its people are in its '
                              'own pixels')
                    last = size
                self.frames_read += 1
                yield index, frame
        finally:
            self.close()

    def close(self) -> None:
        """Release the file."""
        if getattr(self, '_container', None) is not None:
            self._container.close()
            self._container = None
        if getattr(self, '_cap', None) is not None:
            self._cap.release()
            self._cap = None

    def summary(self) -> str:
        """'N of M frames read' with the skipped and missing frames."""
        total = f' of {self.num_frames}' if self.num_frames else ''
        text = f'{self.frames_read}{total} frames read'
        if self.skipped:
            text += (f', {len(self.skipped)} undecodable skipped (first: '
                     f'frame {self.skipped[0]})')
        if self.ended_early:
            text += ', the stream ended early'
        return text


def _chain(first, rest):
    yield first
    yield from rest
