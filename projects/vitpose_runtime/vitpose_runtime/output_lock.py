"""One run per output folder: an exclusive lock on a file in the folder.

Two runs writing to one folder would silently replace each other's files
(issue 20 item 6). :func:`lock_output_dir` takes ``fcntl.flock`` on
``<folder>/.vitpose.lock`` (the lock file holds the owner's process id);
a second run on the folder is refused in one line naming it while the
first holds the lock. The kernel releases the lock when the holder's
file is closed: at :meth:`OutputLock.release`, or when the process ends,
also by ``kill -9``, so a crashed run never leaves the folder locked.
The lock file itself stays (deleting it would let a third run lock a new
file while the second still holds the old one).

Where ``fcntl`` does not exist (Windows) no lock is taken. Standard
library only; shared by ``vitpose_mm.tools.demo`` and this runtime's CLI.
"""
import os
from pathlib import Path

from .inputs import InputError

#: Name of the lock file in an output folder.
LOCK_NAME = '.vitpose.lock'


class OutputLock:
    """A held lock on an output folder (:func:`lock_output_dir`); also a
    context manager that releases it."""

    def __init__(self, fd, path: Path) -> None:
        self._fd, self.path = fd, path

    def release(self) -> None:
        """Let another run use the folder (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'OutputLock':
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_output_dir(out_dir) -> OutputLock:
    """Lock an existing output folder for this run.

    Args:
        out_dir (str | Path): The folder (it must exist).

    Returns:
        OutputLock: Held until released or the process ends.

    Raises:
        InputError: Another run holds the folder (the message names the
            folder and that run's process id), or the lock file cannot be
            created there.
    """
    path = Path(out_dir) / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        return OutputLock(None, path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise InputError(f'cannot lock output folder {out_dir}: '
                         f'{err.strerror}') from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 32).decode(errors='replace').strip() or '?'
        os.close(fd)
        raise InputError(
            f'output folder {out_dir} is in use by another run (process '
            f'{owner}); wait for it or choose another --output-dir'
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f'{os.getpid()}\n'.encode())
    return OutputLock(fd, path)
