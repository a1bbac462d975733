"""Reading and writing checkpoint files without unpickling by default.

``.safetensors`` files go through ``safetensors``; anything else through
``torch.load(weights_only=True)``, which only rebuilds tensors, plain
containers and the types of :mod:`.safe_globals` (what an mmengine training
checkpoint holds: message hub, numpy arrays). A file that holds any other
Python object is refused unless the caller opts in with
``allow_pickle=True`` (CLI: ``--unsafe-pickle``), because unpickling runs
code from the file.
"""
import os
import pickle
from typing import Any, Dict, Mapping, Optional

import torch

from .safe_globals import allow_mmengine_checkpoints
from .table import StateDict

#: Wrappers unwrapped in this order, as the original ViTPose
#: ``mmcv_custom/checkpoint.py`` does: mmengine / mmpose (``state_dict``),
#: MAE / DeiT (``model``), DeepSpeed (``module``).
WRAPPER_KEYS = ('state_dict', 'model', 'module')


class UnsafeCheckpointError(ValueError):
    """The file needs ``torch.load(weights_only=False)`` to be read."""


def weights_only_detail(err: Exception) -> str:
    """The line of torch's message that names the refused object."""
    for line in str(err).splitlines():
        if 'WeightsUnpickler error:' in line:
            detail = line.split('WeightsUnpickler error:')[1].strip()
            return detail.split('. ')[0][:200]
        if line.startswith(('Trying to', 'Unsupported global')):
            return line.strip().rstrip('.')[:200]
    return ''


def _read(path: str, allow_pickle: bool) -> Any:
    if str(path).endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(path, device='cpu')
        except Exception as err:  # SafetensorError is no ValueError
            raise ValueError(f'{path} is not a readable safetensors file: '
                             f'{err}') from None
    with open(path, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive (legacy format: a pickle stream).
    if not (head.startswith(b'PK\x03\x04') or head[:1] == b'\x80'):
        raise ValueError(f'{path} is not a PyTorch checkpoint (neither a '
                         'torch.save zip archive nor a pickle)')
    allow_mmengine_checkpoints()
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        if not allow_pickle:
            detail = weights_only_detail(err)
            detail = f' ({detail})' if detail else ''
            raise UnsafeCheckpointError(
                f'{path} holds Python objects outside the safe types '
                f'(vitpose_mm.checkpoint.safe_globals){detail}. If you '
                'trust the file, pass allow_pickle=True (CLI: '
                '--unsafe-pickle); unpickling can run arbitrary code.'
            ) from None
        # Only reached with allow_pickle: the caller trusts the file.
    except RuntimeError as err:
        raise ValueError(f'{path} is not a readable PyTorch checkpoint: '
                         f'{str(err).splitlines()[0]}') from None
    return torch.load(path, map_location='cpu', weights_only=False)


def unwrap_state_dict(obj: Any, source: str = 'checkpoint') -> StateDict:
    """The state dict inside a loaded checkpoint object.

    Takes ``obj[k]`` for the first ``k`` of :data:`WRAPPER_KEYS` present,
    then strips a ``module.`` prefix (DataParallel) shared by every key.

    Raises:
        ValueError: If no dict of str -> Tensor is found, naming the first
            key whose value is not a tensor.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f'{source} holds a {type(obj).__name__}, not a '
                         'dict of tensors')
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    state = dict(obj)
    if not state:
        raise ValueError(f'{source} holds an empty state dict')
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(
                f'{source} is not a state dict: entry {key!r} holds a '
                f'{type(value).__name__}, not a tensor (top-level keys: '
                f'{sorted(map(str, obj))[:5]})')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_state_dict_file(path: str, allow_pickle: bool = False) -> StateDict:
    """Read the state dict of a checkpoint file on CPU.

    Args:
        path (str): A ``.safetensors`` file, any ``torch.save`` file
            (``.pth``, ``.pt``, ``.bin``), or a transformers
            ``save_pretrained`` folder (its ``config.json`` is checked:
            :mod:`.hf_folder`).
        allow_pickle (bool): Fall back to ``weights_only=False`` for a file
            that needs it. Only for files you trust.

    Returns:
        dict[str, Tensor]: The (unwrapped) state dict, in the file's layout.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: A folder's ``config.json`` field our ViTPose cannot
            represent, naming it.
        UnsafeCheckpointError: If the file needs unpickling and
            ``allow_pickle`` is False; the message says how to opt in.
        ValueError: If the file is not a checkpoint or holds no state dict.
    """
    from .hf_folder import is_hf_folder, read_hf_folder
    if is_hf_folder(path):
        return unwrap_state_dict(read_hf_folder(path)[0], source=str(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(f'No checkpoint file at {path}')
    return unwrap_state_dict(_read(path, allow_pickle), source=str(path))


def save_state_dict_file(state: StateDict,
                         path: str,
                         meta: Optional[Dict[str, Any]] = None,
                         wrap: bool = True) -> None:
    """Write a state dict atomically; the parent folder is created.

    The file is written to a temporary file in the same folder, flushed
    and renamed over ``path``
    (:func:`vitpose_mm.engine.atomic_files.atomic_output`): a failed write
    (a full disk) leaves an existing ``path`` as it was and no temporary
    file.

    Args:
        state (dict[str, Tensor]): Tensors to write (made contiguous).
        path (str): ``.safetensors`` writes a flat file whose metadata
            holds ``meta`` as strings (plus ``format='pt'``, which
            transformers expects); any other suffix uses ``torch.save``.
        meta (dict, optional): Provenance (source file, layouts, ...).
        wrap (bool): For ``torch.save``: write ``{'state_dict': state,
            'meta': meta}`` (mmengine style) if True, else the bare state
            dict (transformers' ``pytorch_model.bin`` style).

    Raises:
        vitpose_mm.engine.atomic_files.WriteError: One line, when the file
            cannot be written (folder, permissions, full disk).
    """
    from vitpose_mm.engine.atomic_files import WriteError, atomic_output
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise WriteError(f'cannot write {path}: cannot create its folder '
                         f'({err.strerror})') from None
    state = {k: v.detach().contiguous() for k, v in state.items()}
    with atomic_output(path) as tmp:
        if str(path).endswith('.safetensors'):
            _save_safetensors(state, tmp, meta)
        else:
            # through a Python file object, so that a failed write is the
            # OSError (ENOSPC ...) and not torch's "unexpected pos"
            with open(tmp, 'wb') as f:
                torch.save({'state_dict': state, 'meta': dict(meta or {})}
                           if wrap else state, f)


def _save_safetensors(state: StateDict, path: str,
                      meta: Optional[Dict[str, Any]]) -> None:
    """``safetensors.torch.save_file`` with its I/O errors as OSError."""
    import re

    from safetensors.torch import save_file
    metadata = {'format': 'pt'}
    metadata.update({str(k): str(v) for k, v in (meta or {}).items()})
    try:
        save_file(state, path, metadata=metadata)
    except Exception as err:  # SafetensorError is no OSError
        code = re.search(r'os error (\d+)', str(err))
        if code is None:
            raise
        raise OSError(int(code.group(1)),
                      os.strerror(int(code.group(1)))) from None


def checkpoint_problem(path: str) -> Optional[str]:
    """Why the ``torch.save`` file at ``path`` cannot be resumed from, or
    None when it is complete.

    A torch checkpoint is a zip archive; a file cut short by a kill during
    the write has no central directory or fails a CRC. Every member is
    read (the whole file), so this costs one read of the checkpoint.

    Returns:
        str or None: ``'missing'``, ``'not a torch checkpoint (...)'`` or
        ``'torn (...)'``.
    """
    import zipfile
    if not os.path.isfile(path):
        return 'missing'
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        size = os.path.getsize(path)
        return f'torn or not a torch checkpoint ({err}; {size} bytes)'
    except (OSError, EOFError) as err:
        return f'unreadable ({err})'
    if bad is not None:
        return f'torn (member {bad} fails its CRC)'
    return None
