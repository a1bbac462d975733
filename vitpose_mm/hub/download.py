"""Download a released checkpoint once, check it, convert it once, cache it.

:func:`fetch_weights` turns a URL into a local file **in our layout**:

1. The cached file, if there is one: no network call at all (so the second
   run works offline).
2. Else, under a lock file (other processes wanting the same file wait,
   then find it cached), the URL is downloaded into a temporary file beside
   the cached one. It is refused when the server sends HTML (a login or
   error page) or fewer bytes than it announced, and when its sha256 does
   not start with the expected prefix (the metafile's, or the one in the
   file name as OpenMMLab's ``publish_model`` and torch hub write it).
3. It is read without unpickling (``weights_only``; safetensors), its layout
   detected and converted to ours (:func:`vitpose_mm.checkpoint.
   convert_state_dict`; a ViTPose+ file served to a plain config keeps one
   dataset's expert and head: :func:`vitpose_mm.checkpoint.split_experts`),
   written as a ``torch.save`` file (``state_dict`` + ``meta``: the URL,
   the download's sha256, the source layout) through a temporary file
   renamed over the cached path (atomic). The download is deleted.

So the cache only ever holds complete, converted files: a failure at any
step leaves no file at the cached path and removes the temporary ones; two
processes racing for the same file each write their own temporary file and
the rename keeps one whole file.

The cache is ``$VITPOSE_MM_HOME`` if set, else ``vitpose_mm/`` in torch
hub's folder (``$TORCH_HOME/hub``, by default ``~/.cache/torch/hub``, where
mmengine and torch hub keep their downloads in ``checkpoints/``). A URL's
file is ``<cache>/<host>/<path>`` with the file suffix replaced by
``[.<dataset>].vitpose_mm.pth``.

``$VITPOSE_MM_MIRRORS`` maps URL prefixes to others, as
``PREFIX=REPLACEMENT`` pairs separated by ``;`` (e.g. a mirror of the
Hugging Face hub, or a local server in the tests); the cached path and the
expected hash stay those of the original URL. ``$VITPOSE_MM_OFFLINE=1``
refuses any download (the cache must already hold the file).
"""
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from mmengine.logging import print_log

from .zoo import WeightsError, hash_in_name

try:
    import fcntl
except ImportError:  # Windows: no lock; the atomic rename still holds.
    fcntl = None

HOME_ENV = 'VITPOSE_MM_HOME'
MIRRORS_ENV = 'VITPOSE_MM_MIRRORS'
OFFLINE_ENV = 'VITPOSE_MM_OFFLINE'
#: Suffix of a converted file in the cache.
SUFFIX = '.vitpose_mm.pth'
CHUNK = 1 << 20
TIMEOUT_S = 60


def cache_dir() -> Path:
    """``$VITPOSE_MM_HOME``, else ``<torch hub dir>/vitpose_mm``."""
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser()
    import torch
    return Path(torch.hub.get_dir()) / 'vitpose_mm'


def is_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL."""
    return str(text).startswith(('http://', 'https://'))


def cached_path(url: str, dataset: Optional[str] = None) -> Path:
    """Where the converted file of ``url`` is (or will be) cached.

    Raises:
        WeightsError: Not an http(s) URL, or a path with ``..`` parts.
    """
    parts = urllib.parse.urlsplit(url)
    segments = [s for s in parts.path.split('/') if s]
    if (parts.scheme not in ('http', 'https') or not parts.netloc
            or not segments or any(s in ('.', '..') for s in segments)):
        raise WeightsError(f'weights URL {url!r}: need http(s)://host/path '
                           'to a file')
    stem = segments[-1].rsplit('.', 1)[0]
    extra = f'.{dataset}' if dataset else ''
    host = parts.netloc.replace(':', '_')
    return cache_dir().joinpath(host, *segments[:-1],
                                f'{stem}{extra}{SUFFIX}')


def mirrored(url: str) -> str:
    """``url`` with the first matching prefix of ``$VITPOSE_MM_MIRRORS``
    replaced."""
    for pair in os.environ.get(MIRRORS_ENV, '').split(';'):
        if '=' not in pair:
            continue
        prefix, replacement = (s.strip() for s in pair.split('=', 1))
        if prefix and url.startswith(prefix):
            return replacement + url[len(prefix):]
    return url


def _remove(path: Optional[str]) -> None:
    if path and os.path.exists(path):
        os.unlink(path)


def _download(url: str, source: str, dst, expected: Optional[str]) -> str:
    """Stream ``source`` (``url`` or its mirror) into the open file ``dst``;
    return the sha256 hex digest. Raises WeightsError (one line)."""
    request = urllib.request.Request(
        source, headers={'User-Agent': 'vitpose_mm'})
    where = url if source == url else f'{url} (from {source})'
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        raise WeightsError(f'cannot download {where}: HTTP {err.code} '
                           f'{err.reason}') from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, 'reason', err)
        raise WeightsError(f'cannot download {where}: {reason}') from None
    sha = hashlib.sha256()
    size = 0
    with response:
        kind = response.headers.get('Content-Type', '')
        announced = response.headers.get('Content-Length')
        if kind.split(';')[0].strip().lower() in ('text/html',
                                                  'application/xhtml+xml'):
            raise WeightsError(
                f'{where} returned an HTML page ({kind}), not a checkpoint '
                '(a login, error or share page?); nothing was cached')
        try:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                if size == 0 and chunk.lstrip()[:15].lower().startswith(
                        (b'<!doctype html', b'<html')):
                    raise WeightsError(
                        f'{where} returned an HTML page, not a checkpoint; '
                        'nothing was cached')
                sha.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        except http.client.IncompleteRead as err:
            size += len(err.partial)
            raise WeightsError(
                f'download of {where} was cut short: {size} of '
                f'{announced} bytes; nothing was cached') from None
        except (OSError, http.client.HTTPException) as err:
            raise WeightsError(f'download of {where} failed after {size} '
                               f'bytes: {err}; nothing was cached') from None
    if announced is not None and size != int(announced):
        raise WeightsError(f'download of {where} was cut short: {size} of '
                           f'{announced} bytes; nothing was cached')
    digest = sha.hexdigest()
    if expected and not digest.startswith(expected):
        raise WeightsError(
            f'sha256 of {where} is {digest[:16]}..., expected '
            f'{expected[:16]}...: a corrupt or changed file; nothing was '
            'cached')
    return digest


def _expert_names(state: dict) -> Optional[tuple]:
    """The dataset names of a ViTPose+ file's experts when the file does
    not name them (transformers' files hold one head): the released
    order, :data:`vitpose_mm.checkpoint.RELEASED_DATASETS` (the original
    repo's ``dataset_index`` 0-5), if it has six experts; else None."""
    from vitpose_mm.checkpoint import RELEASED_DATASETS, expert_config
    from vitpose_mm.checkpoint.moe import dataset_order
    config = expert_config(state)
    if (config and config['num_expert'] == len(RELEASED_DATASETS)
            and dataset_order(state, None) is None):
        return RELEASED_DATASETS
    return None


def _convert(raw: str, final: Path, url: str, digest: str,
             dataset: Optional[str]) -> None:
    """Read the download (no unpickling), convert it to our layout with
    :func:`vitpose_mm.checkpoint.convert_state_dict` (a ViTPose+ file with
    ``dataset``: that dataset's expert and head,
    :func:`vitpose_mm.checkpoint.split_experts`) and write it to ``final``
    atomically (:func:`vitpose_mm.checkpoint.save_state_dict_file`)."""
    from vitpose_mm.checkpoint import (convert_state_dict, detect_layout,
                                       load_state_dict_file,
                                       save_state_dict_file, split_experts)
    try:
        state = load_state_dict_file(raw)
        layout = detect_layout(state)
        ours = convert_state_dict(state, src=layout)
        if dataset:
            ours = split_experts(ours, dataset, _expert_names(ours))
    except ValueError as err:  # unreadable, unsafe, unknown layout ...
        msg = str(err).replace(raw, 'the file').splitlines()[0]
        raise WeightsError(f'{url} is not a usable ViTPose checkpoint: '
                           f'{msg}; nothing was cached') from None
    save_state_dict_file(
        ours, str(final),
        meta=dict(source=url, sha256=digest, layout=layout,
                  dataset=dataset or ''))


def fetch_weights(url: str,
                  sha256: Optional[str] = None,
                  dataset: Optional[str] = None) -> Path:
    """The cached file of ``url`` in our layout, downloading it first if
    needed (see the module doc).

    Args:
        url (str): http(s) URL of a checkpoint in any layout our converter
            reads (ours, original, mmpose, transformers ``.safetensors``).
        sha256 (str, optional): Expected sha256 or prefix; default: the
            prefix in the file name, if any.
        dataset (str, optional): For a ViTPose+ file: keep this dataset's
            expert and head as a plain ViTPose.

    Returns:
        Path: A ``torch.save`` file: ``{'state_dict': ..., 'meta': ...}``.

    Raises:
        WeightsError: One line: a bad URL, offline mode without the file,
            a cache folder that cannot be written, an HTTP / network error,
            an HTML page, a truncated download, a hash mismatch, a file
            that is no ViTPose checkpoint, a full disk. Nothing is left in
            the cache then.
    """
    final = cached_path(url, dataset)
    if final.is_file():
        return final
    if os.environ.get(OFFLINE_ENV) == '1':
        raise WeightsError(f'${OFFLINE_ENV}=1 and {url} is not cached '
                           f'(at {final})')
    expected = (sha256 or hash_in_name(url) or '').lower() or None
    lock = final.with_name(f'.{final.name}.lock')
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock_file = open(lock, 'a')
    except OSError as err:
        raise WeightsError(f'cannot write the weights cache {final.parent}: '
                           f'{err.strerror} (set ${HOME_ENV} to another '
                           'folder)') from None
    with lock_file:
        # Waits while another process fetches the same file.
        if fcntl is not None:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            if final.is_file():
                return final
            raw = None
            try:
                # The source's suffix: the reader tells safetensors by it.
                suffix = Path(urllib.parse.urlsplit(url).path).suffix
                fd, raw = tempfile.mkstemp(prefix=f'.{final.name}.',
                                           suffix=f'.download{suffix}',
                                           dir=final.parent)
                print_log(f'downloading {url} to {final.parent}',
                          logger='current')
                with os.fdopen(fd, 'wb') as f:
                    digest = _download(url, mirrored(url), f, expected)
                _convert(raw, final, url, digest, dataset)
            except OSError as err:  # WriteError: a full disk, ...
                raise WeightsError(f'{url}: {err}; nothing was cached'
                                   ) from None
            finally:
                _remove(raw)
        finally:
            # Waiters hold the same (now unlinked) inode and find the file.
            _remove(str(lock))
            if fcntl is not None:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    print_log(f'cached {url} in our layout: {final}', logger='current')
    return final
