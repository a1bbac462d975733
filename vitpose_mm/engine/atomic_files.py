"""Files that are either complete or absent: written beside their final
path under a temporary name, flushed to disk, then renamed over it
(``os.replace`` is atomic on POSIX and Windows). A reader, or a run killed
mid-write, never sees half a file; at worst a ``.<name>.*.tmp`` file is
left behind.

Used for checkpoints and ``last_checkpoint``
(:class:`~vitpose_mm.engine.hooks.AtomicCheckpointHook`), the demo's JSON
results (:func:`vitpose_mm.apis.write_json`) and the test tool's metrics.
"""
import os
import tempfile
from pathlib import Path
from typing import Union


def replace_durably(src: Union[str, Path], dst: Union[str, Path]) -> None:
    """Flush ``src`` to disk, then rename it to ``dst`` atomically."""
    with open(src, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(src, dst)


def write_atomically(path: Union[str, Path], data: Union[str, bytes]) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a
    temporary file in the same folder (``.<name>.<random>.tmp``), removed
    if the write fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
        replace_durably(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
