"""Overlap video decoding and writing with inference: a frame reader
thread, a writer thread, and the time each stage takes.

``vitpose_mm.tools.demo`` runs a video as three stages: decoding (a
:class:`FrameReader` thread that keeps a few frames ahead), inference in
the calling thread (detector, pose model, tracker), and drawing plus
writing (a :class:`FrameWriter` thread). OpenCV's and PyAV's decoders,
cv2's encoder and numpy release the GIL, so on a multi-core CPU the
stages overlap; ``sequential=True`` runs all in the calling thread (the
"before" of ``benchmarks/video_tracking.py``'s demo part).

The writer records each frame completely or not at all: signals reach
only the main thread, so an interrupt there never stops the writer inside
a frame; on close it finishes the frames it was handed, then stops. A run
killed outright (SIGKILL) keeps the frames the writer had finished (the
JSON Lines file is flushed per frame).
"""
import queue
import threading
import time
from collections import defaultdict
from typing import Callable, Iterator, Optional

#: Frames decoded ahead of inference.
READ_AHEAD = 4
#: Frames waiting to be written before inference waits for the writer.
WRITE_BEHIND = 8

_END = object()


class StageTimes:
    """Seconds spent per stage (decode, detect, pose, track, render,
    write), summed over frames; each stage is timed in the thread that
    runs it, so with threads the sum exceeds the wall time."""

    STAGES = ('decode', 'detect', 'pose', 'track', 'render', 'write')

    def __init__(self) -> None:
        self.seconds = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    def timed(self, stage: str, fn: Callable) -> Callable:
        """``fn`` wrapped to add its run time to ``stage``."""

        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - start)

        return run

    def report(self, frames: int) -> str:
        """'decode 3.1, detect 40.2, ... ms/frame'."""
        n = max(frames, 1)
        return ', '.join(f'{s} {1000 * self.seconds[s] / n:.1f}'
                         for s in self.STAGES) + ' ms/frame'


class FrameReader:
    """Iterate ``frames`` in a thread, :data:`READ_AHEAD` items ahead.

    Args:
        frames (Iterator): Any iterator (e.g. ``VideoFrames.numbered()``).
        times (StageTimes, optional): Gets the 'decode' time.
        threaded (bool): False reads in the calling thread.

    Iterating yields the items in order; an exception of ``frames`` is
    raised in the caller at that point.
    """

    def __init__(self, frames: Iterator, times: Optional[StageTimes] = None,
                 threaded: bool = True) -> None:
        self._frames, self._times = frames, times
        self._threaded = threaded
        self._queue: queue.Queue = queue.Queue(READ_AHEAD)
        self._stop = threading.Event()
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='vitpose_mm-reader')
            self._thread.start()

    def _next(self):
        start = time.perf_counter()
        try:
            return next(self._frames)
        finally:
            if self._times is not None:
                self._times.add('decode', time.perf_counter() - start)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = self._next()
                except StopIteration:
                    break
                self._put(('item', item))
        except BaseException as err:  # handed to the caller
            self._put(('error', err))
        self._put(('end', None))

    def _put(self, entry) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self):
        if not self._threaded:
            while True:
                try:
                    yield self._next()
                except StopIteration:
                    return
        while True:
            kind, value = self._queue.get()
            if kind == 'end':
                return
            if kind == 'error':
                raise value
            yield value

    def close(self) -> None:
        """Stop reading (the thread ends at its next frame)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class FrameWriter:
    """Run ``write(item)`` for each handed item, in order, in a thread.

    Args:
        write (callable): Records one frame (JSON Lines, mp4, ...); it runs
            in the writer thread (or the caller's with ``threaded=False``).
        threaded (bool): False writes in the calling thread.

    An exception in ``write`` stops the writer; it is raised in the caller
    at the next :meth:`put` or at :meth:`close`.
    """

    def __init__(self, write: Callable, threaded: bool = True) -> None:
        self._write, self._threaded = write, threaded
        self._queue: queue.Queue = queue.Queue(WRITE_BEHIND)
        self._error: Optional[BaseException] = None
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='vitpose_mm-writer')
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as err:  # handed to the caller
                    self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def put(self, item) -> None:
        """Hand one frame over (waits while :data:`WRITE_BEHIND` are
        pending)."""
        self._raise()
        if self._threaded:
            self._queue.put(item)
        else:
            self._write(item)

    def close(self) -> None:
        """Write what was handed over, stop the thread, raise its error."""
        if self._thread is not None:
            self._queue.put(_END)
            self._thread.join()
            self._thread = None
        self._raise()
