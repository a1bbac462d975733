"""Released weights by name or URL: download once, check, convert, cache.

- :mod:`.zoo`: the names (``Name`` / ``Alias`` of ``model-index.yml``'s
  metafiles, with ``Weights`` URLs), as mim and mmengine read them.
- :mod:`.download`: :func:`fetch_weights`, the cache (``$VITPOSE_MM_HOME``,
  default ``<torch hub dir>/vitpose_mm``), mirrors, hash checks.
- :mod:`.mmengine_scheme`: ``vitpose://NAME`` in mmengine's
  ``load_checkpoint`` (so ``load_from``, ``init_model``,
  ``MMPoseInferencer(pose2d_weights=...)`` take it too), registered when
  one of our backbones is built or by :func:`register_loaders`, never at
  import.
- ``vitpose_mm.registry``: the scope ``vitpose_mm`` of mmengine's
  inferencers, so ``MMPoseInferencer(pose2d=NAME, scope='vitpose_mm')``
  finds our names.

Our own entries (``init_pose_model``, the demo's ``--pose-checkpoint``) go
through :func:`resolve_checkpoint`.
"""
import os
from typing import Optional, Tuple

from .download import (HOME_ENV, MIRRORS_ENV, OFFLINE_ENV, cache_dir,
                       cached_path, fetch_weights, is_url)
from .mmengine_scheme import NAME_SCHEME, register_loaders
from .zoo import (INDEX_ENV, WeightsError, ZooModel, close_names,
                  find_model, get_model, list_models, model_for_url)

#: File suffixes that make a missing path a file, not a model name.
CHECKPOINT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.onnx',
                       '.ckpt')


def looks_like_name(text: str) -> bool:
    """Whether ``text`` would be taken for a model name: not an existing
    path, no URL, no checkpoint suffix, no folder part (aliases such as
    ``usyd-community/vitpose-base`` are found by lookup first)."""
    text = str(text)
    return not (os.path.exists(text) or '://' in text
                or text.lower().endswith(CHECKPOINT_SUFFIXES)
                or os.sep in text)


def config_of(checkpoint: str) -> Optional[str]:
    """The config of model name ``checkpoint`` (or ``vitpose://`` name),
    None for files and URLs.

    Raises:
        WeightsError: ``checkpoint`` looks like a name but is none (close
            names listed).
    """
    name = str(checkpoint)
    if name.startswith(NAME_SCHEME):
        return get_model(name[len(NAME_SCHEME):]).config
    if os.path.exists(name) or is_url(name):
        return None
    model = find_model(name)
    if model is not None:
        return model.config
    if looks_like_name(name):
        get_model(name)  # raises with the close names
    return None


def resolve_checkpoint(config, checkpoint: str) -> Tuple[object, str]:
    """``(config, local checkpoint path)`` for a checkpoint given as a file,
    a URL, a model name or ``vitpose://NAME``.

    A file is returned as it is. A URL or a name's ``Weights`` is fetched
    into the cache in our layout (:func:`fetch_weights`). A name also gives
    the config when ``config`` is None.

    Raises:
        WeightsError: One line: an unknown name (close names listed), a
            name without weights, or a failed fetch (see
            :func:`fetch_weights`).
    """
    name = str(checkpoint)
    if name.startswith(NAME_SCHEME):
        name = name[len(NAME_SCHEME):]
    elif os.path.exists(name):
        return config, name
    if is_url(name):
        model = model_for_url(name)
        sha, dataset = (model.sha256, model.dataset) if model else (None,
                                                                     None)
        return config, str(fetch_weights(name, sha, dataset))
    model = find_model(name)
    if model is None:
        if looks_like_name(name) or str(checkpoint).startswith(NAME_SCHEME):
            get_model(name)  # raises with the close names
        return config, name  # a missing file: the reader says so
    model = get_model(model.name)  # raises if it has no weights
    path = fetch_weights(model.weights, model.sha256, model.dataset)
    return (model.config if config is None else config), str(path)


__all__ = [
    'CHECKPOINT_SUFFIXES', 'HOME_ENV', 'INDEX_ENV', 'MIRRORS_ENV',
    'NAME_SCHEME', 'OFFLINE_ENV', 'WeightsError', 'ZooModel', 'cache_dir',
    'cached_path', 'close_names', 'config_of', 'fetch_weights',
    'find_model', 'get_model', 'is_url', 'list_models', 'looks_like_name',
    'model_for_url', 'register_loaders', 'resolve_checkpoint'
]
