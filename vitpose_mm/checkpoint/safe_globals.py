"""The allow-list that lets ``torch.load(weights_only=True)`` read mmengine
training checkpoints.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it
rebuilds tensors and plain containers and refuses every other global in the
pickle. An mmengine training checkpoint (written by this plugin's configs,
by stock mmpose, by any mmengine ``Runner``) holds more than tensors:

================================================  ===========================
global in the pickle                              where mmengine puts it
================================================  ===========================
``mmengine.logging.history_buffer.HistoryBuffer`` ``message_hub.log_scalars``
``numpy.ndarray``, ``numpy.dtype``,               the buffers' histories,
``numpy._core.multiarray._reconstruct``           ``meta.dataset_meta``
                                                  (sigmas, flip indices)
``numpy._core.multiarray.scalar``                 numpy scalars in
                                                  ``runtime_info`` / meta
``builtins.getattr``                              ``HistoryBuffer.__getstate__``
                                                  pickles its statistics
                                                  functions (``min``,
                                                  ``max``, ``current``,
                                                  ``mean``) as
                                                  ``getattr(HistoryBuffer,
                                                  'min')`` (pickle protocol 2)
================================================  ===========================

(Measured with ``torch.serialization.get_unsafe_globals_in_checkpoint`` on a
checkpoint of ``vitpose_mm.tools.train`` and one of mmpose's own
``tools/train.py``; mmengine 0.10.7, numpy 2.) ``numpy.core.*`` (numpy 1)
and the ``numpy.dtypes.*`` classes are listed too, since other numpy
versions pickle those names.

Safety argument: the classes are data containers whose unpickling runs no
code from the file (``HistoryBuffer.__setstate__`` only updates the class's
table of statistics functions with the values read, and the only values the
unpickler can produce for it are the four functions below). ``getattr`` is
NOT allowed: the name ``builtins.getattr`` is bound to
:func:`history_buffer_method`, which returns one of the four statistics
methods of ``HistoryBuffer`` and raises ``UnpicklingError`` for anything
else, so a file cannot reach arbitrary attributes (e.g.
``getattr(numpy.ndarray, 'tofile')``). Every other global, e.g. an
``os.system`` payload, is still refused by torch.

:func:`allow_mmengine_checkpoints` is called where we load, not at import:
by :func:`.io.load_state_dict_file` (our tools and APIs) and when one of our
backbones is built (:func:`vitpose_mm.models.load_hook.prepare_loading`).
Stock clients (``mmpose.apis.init_model``, ``MMPoseInferencer``, mmpose's
``tools/test.py``, ``load_from`` and ``resume`` of mmengine's ``Runner``)
build the model before they read its checkpoint, so they all load such
files with ``weights_only=True``; a process that never builds our models
keeps torch's own allow-list.
"""
import pickle
from typing import Callable, List, Tuple, Union

import numpy as np
import torch

#: The statistics functions ``HistoryBuffer`` registers by default
#: (mmengine/logging/history_buffer.py, ``_set_default_statistics``).
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_method(obj: type, name: str) -> Callable:
    """The narrow stand-in for ``builtins.getattr`` during safe loading.

    Args:
        obj: Must be mmengine's ``HistoryBuffer`` class.
        name (str): One of :data:`HISTORY_BUFFER_METHODS`.

    Returns:
        The function ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    from mmengine.logging import HistoryBuffer
    if obj is not HistoryBuffer or name not in HISTORY_BUFFER_METHODS:
        raise pickle.UnpicklingError(
            f'vitpose_mm safe loading: the checkpoint asks for getattr('
            f'{getattr(obj, "__name__", type(obj).__name__)}, {name!r}); '
            'only getattr(HistoryBuffer, '
            f'{"|".join(HISTORY_BUFFER_METHODS)}) is allowed')
    return getattr(obj, name)


def _numpy_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    entries: List[Union[Callable, Tuple[Callable, str]]] = [np.ndarray,
                                                           np.dtype]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((reconstruct, f'{module}._reconstruct'))
        entries.append((scalar, f'{module}.scalar'))
    # numpy >= 1.25 has a class per dtype (numpy.dtypes.Float32DType, ...).
    for char in '?bBhHiIlLqQefdgFDGUSV':
        cls = type(np.dtype(char))
        if cls is not np.dtype:
            entries.append((cls, f'numpy.dtypes.{cls.__name__}'))
    return entries


def safe_globals() -> List[Union[Callable, Tuple[Callable, str]]]:
    """The entries :func:`allow_mmengine_checkpoints` gives to
    ``torch.serialization.add_safe_globals``."""
    from mmengine.logging import HistoryBuffer
    entries = _numpy_globals()
    entries.append(HistoryBuffer)
    entries.append((history_buffer_method, 'builtins.getattr'))
    return entries


def allow_mmengine_checkpoints() -> None:
    """Let ``torch.load(weights_only=True)`` read mmengine training
    checkpoints (see the module docstring for what is allowed and why).
    Idempotent."""
    torch.serialization.add_safe_globals(safe_globals())


__all__ = ['HISTORY_BUFFER_METHODS', 'allow_mmengine_checkpoints',
           'history_buffer_method', 'safe_globals']
