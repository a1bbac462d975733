"""Files that are either complete or absent: written beside their final
path under a temporary name, flushed to disk, then renamed over it
(``os.replace`` is atomic on POSIX and Windows). A reader, or a run killed
mid-write, never sees half a file; at worst a ``.<name>.*.tmp`` file is
left behind by a kill. A write that fails (full disk, file size limit,
read-only folder) removes its temporary file, leaves the file it was to
replace as it was, and raises :class:`WriteError`: one line naming the
file and the reason.

The written file gets the mode a plain ``open(path, 'w')`` would give: the
replaced file's, or ``0666`` less the umask for a new one (``mkstemp``
alone would leave ``0600``).

Used for checkpoints and ``last_checkpoint``
(:class:`~vitpose_mm.engine.hooks.AtomicCheckpointHook`), the converters'
outputs (:func:`vitpose_mm.checkpoint.save_state_dict_file`), the demo's
JSON results (:func:`vitpose_mm.apis.write_json`), the test tool's metrics
and the data check's cleaned annotation files.
"""
import errno
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

PathLike = Union[str, Path]


class WriteError(OSError):
    """A file could not be written; the one-line message names it, the
    reason, and says the old file (if any) is unchanged."""


def umask() -> int:
    """The process's umask (read without changing it where /proc says)."""
    try:
        with open('/proc/self/status', encoding='ascii') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: the same real path (through
    symlinks) or, both existing, the same inode (hard links)."""
    if osp.realpath(a) == osp.realpath(b):
        return True
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_output(dst: PathLike, sources: Iterable[PathLike] = ()) -> None:
    """Refuse an output path that would overwrite an input or is a folder.

    Raises:
        ValueError: One line: ``dst`` is one of ``sources`` (also through a
            symlink or a hard link), or an existing folder.
        WriteError: ``dst`` cannot be written (:func:`check_writable`).
    """
    for src in sources:
        if same_file(src, dst):
            how = ('the same path' if osp.abspath(src) == osp.abspath(dst)
                   else 'a symlink or hard link to it')
            raise ValueError(f'DST must differ from SRC: {dst} is {src} '
                             f'({how}); writing it would destroy the source')
    if osp.isdir(dst):
        raise ValueError(f'DST {dst} is a folder; name a file')
    check_writable(dst)


def check_writable(path: PathLike) -> None:
    """Refuse, before any work, a file that cannot be written in place.

    ``path`` may not exist yet, nor its folder (the nearest existing
    folder above it must then take new entries). A read-only file is
    refused although a rename could replace it: its mode says it is not
    to be overwritten (``cp`` refuses it too). ``os.access`` also sees
    what a mode does not: a read-only mount, an immutable file
    (``chattr +i``, which binds root too).

    Raises:
        WriteError: One line: ``path`` is a folder, a read-only file, or
            lies in (or would be created under) a folder that is
            read-only or not a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise WriteError(f'cannot write {path}: it is a folder')
    if path.exists() and not os.access(path, os.W_OK):
        raise WriteError(f'cannot write {path}: the file is read-only; '
                         'the existing file is unchanged')
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise WriteError(f'cannot write {path}: {folder} is not a folder')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f'cannot write {path}: the folder {folder} is '
                         'read-only')


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror
        if err.errno == errno.ENOSPC:
            text += ' (disk full)'
        return text
    return ' '.join(str(err).split()) or type(err).__name__


@contextmanager
def atomic_output(path: PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write the whole file to;
    on leaving the block it is flushed to disk (``fsync``), given the mode
    of the module docstring and renamed to ``path``.

    Raises:
        WriteError: ``path`` is refused by :func:`check_writable` (a
            folder, read-only), the folder cannot take a new file, or the
            block or the
            rename raised an ``OSError`` (a full disk: ``ENOSPC``); the
            temporary file is removed and ``path`` is unchanged. Other
            exceptions of the block propagate unchanged, after the same
            clean-up.
    """
    path = Path(path)
    check_writable(path)
    existed = path.exists()
    unchanged = ('the existing file is unchanged'
                 if existed else 'nothing was written')
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    except OSError as err:
        raise WriteError(f'cannot write {path}: {_reason(err)} (cannot '
                         f'create a file in {path.parent})') from None
    os.close(fd)
    try:
        yield tmp
        mode = (path.stat().st_mode & 0o7777
                if existed else 0o666 & ~umask())
        os.chmod(tmp, mode)
        replace_durably(tmp, path)
    except BaseException as err:
        if osp.exists(tmp):
            os.unlink(tmp)
        cause = _os_error(err)
        if cause is not None and not isinstance(err, WriteError):
            raise WriteError(f'cannot write {path}: {_reason(cause)}; '
                             f'{unchanged}') from None
        raise


def _os_error(err: BaseException) -> Optional[OSError]:
    """``err`` or the exception it was raised while handling, if an
    ``OSError`` (``torch.save`` turns a failed write into a
    ``RuntimeError`` raised while handling the ``OSError``)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def replace_durably(src: PathLike, dst: PathLike) -> None:
    """Flush ``src`` to disk, then rename it to ``dst`` atomically."""
    with open(src, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(src, dst)


def write_atomically(path: PathLike, data: Union[str, bytes]) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through
    :func:`atomic_output`.

    Raises:
        WriteError: See :func:`atomic_output`.
    """
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
