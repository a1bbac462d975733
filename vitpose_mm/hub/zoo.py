"""Model names: the entries of ``model-index.yml`` that carry weights.

The names are those of mim and of mmengine's inferencers: the ``Name`` (and
``Alias``) of each model in the metafiles that ``model-index.yml`` imports,
read from the place mmengine reads them for the scope ``vitpose_mm``
(``BaseInferencer._get_repo_or_mim_dir``: the checkout's root beside
``configs/``, else the installed package's ``.mim``), so a name means the
same thing to ``init_pose_model``, ``MMPoseInferencer(..., scope=
'vitpose_mm')`` and ``mim download vitpose_mm --config NAME``. Names match
case-insensitively, as in mmengine.

Fields read from a model entry, besides ``Name``, ``Alias`` and ``Config``:

- ``Weights`` (URL): where the released checkpoint is; an entry without it
  names a config only and is not a weights name.
- ``Metadata: Weights SHA256``: the sha256 (or a prefix of it) of that
  file. Without it, the 8+ hex digits that OpenMMLab's ``publish_model``
  and torch hub put in the file name (``...-62d7a712_20230314.pth``,
  ``...-62d7a712.pth``) are the expected prefix; without either the file
  is checked only by reading it (transformers' ``model.safetensors``).
- ``Metadata: Weights Dataset``: for a ViTPose+ checkpoint served to a plain
  ViTPose config: the dataset whose expert and head to keep
  (:func:`vitpose_mm.checkpoint.split_experts`), e.g. ``coco`` for
  transformers' ``usyd-community/vitpose-plus-*``, which hold the six
  experts and the COCO head only.

``$VITPOSE_MM_MODEL_INDEX`` adds index files (``os.pathsep``-separated; a
``model-index.yml`` with ``Import`` or a metafile with ``Models``; their
``Config`` paths are relative to the file), e.g. a team's own zoo or a
test's. Only our own tools read it; mmengine and mim read the package's.
"""
import difflib
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

from mmengine.fileio import load

#: Extra index files (os.pathsep-separated).
INDEX_ENV = 'VITPOSE_MM_MODEL_INDEX'
#: The sha256 prefix of OpenMMLab's publish_model / torch hub file names.
HASH_IN_NAME = re.compile(
    r'-(?P<sha>[0-9a-f]{8,64})(?:_\d{8})?\.(?:pth|pt|bin|safetensors)$')


class WeightsError(ValueError):
    """A weights name, URL or download that cannot be used (one line)."""


@dataclass(frozen=True)
class ZooModel:
    """One named model of the index.

    Attributes:
        name (str): ``Name`` in the metafile.
        config (str): Absolute path of its config file.
        weights (str or None): ``Weights`` URL.
        sha256 (str or None): Expected sha256 (prefix, lower case) of the
            file at ``weights`` (metafile field, else the file name).
        dataset (str or None): ``Weights Dataset`` (see the module doc).
        aliases (tuple of str): ``Alias`` entries.
        index (str): The metafile the entry came from.
    """
    name: str
    config: str
    weights: Optional[str] = None
    sha256: Optional[str] = None
    dataset: Optional[str] = None
    aliases: tuple = field(default_factory=tuple)
    index: str = ''


def hash_in_name(url: str) -> Optional[str]:
    """The sha256 prefix written in a checkpoint's file name, or None."""
    m = HASH_IN_NAME.search(url.split('?', 1)[0].rsplit('/', 1)[-1])
    return m['sha'] if m else None


def _entry(model: dict, root: str, index: str) -> ZooModel:
    meta = model.get('Metadata') or {}
    weights = model.get('Weights')
    if isinstance(weights, (list, tuple)):
        weights = weights[0] if weights else None
    aliases = model.get('Alias') or ()
    if isinstance(aliases, str):
        aliases = (aliases, )
    sha = meta.get('Weights SHA256') or (hash_in_name(weights)
                                         if weights else None)
    return ZooModel(
        name=str(model['Name']),
        config=osp.abspath(osp.join(root, model['Config'])),
        weights=weights,
        sha256=str(sha).lower() if sha else None,
        dataset=meta.get('Weights Dataset'),
        aliases=tuple(str(a) for a in aliases),
        index=index)


def _models_of(path: str) -> Iterator[dict]:
    """The model dicts of an index file (``Import``) or a metafile."""
    data = load(path) or {}
    for rel in data.get('Import', []):
        yield from (load(osp.join(osp.dirname(path), rel)) or {}).get(
            'Models', [])
    yield from data.get('Models', [])


def _package_index() -> str:
    """``model-index.yml`` where mmengine finds it for scope vitpose_mm."""
    from mmengine.infer import BaseInferencer
    return osp.join(BaseInferencer._get_repo_or_mim_dir('vitpose_mm'),
                    'model-index.yml')


def index_files() -> List[str]:
    """The package's index, then those of ``$VITPOSE_MM_MODEL_INDEX``."""
    extra = [p for p in os.environ.get(INDEX_ENV, '').split(os.pathsep) if p]
    for path in extra:
        if not osp.isfile(path):
            raise WeightsError(f'${INDEX_ENV}: no index file at {path}')
    return [_package_index()] + extra


def list_models(with_weights: bool = True) -> List[ZooModel]:
    """Every model of the index files (read afresh), in file order.

    Args:
        with_weights (bool): Only the entries with a ``Weights`` URL.

    Raises:
        WeightsError: A name (or alias) given twice, an index file of
            ``$VITPOSE_MM_MODEL_INDEX`` that does not exist.
    """
    models: List[ZooModel] = []
    seen: Dict[str, str] = {}
    for path in index_files():
        # The package index: paths relative to its folder (repo or .mim);
        # mmengine joins them the same way.
        root = osp.dirname(path)
        for raw in _models_of(path):
            model = _entry(raw, root, path)
            for key in (model.name, ) + model.aliases:
                if key.lower() in seen:
                    raise WeightsError(
                        f'model name {key!r} of {path} is already used in '
                        f'{seen[key.lower()]}')
                seen[key.lower()] = path
            models.append(model)
    return [m for m in models if m.weights or not with_weights]


def find_model(name: str) -> Optional[ZooModel]:
    """The model called ``name`` (or with that alias), any case; None if
    there is none."""
    key = name.lower()
    for model in list_models(with_weights=False):
        if key == model.name.lower() or key in (a.lower()
                                                for a in model.aliases):
            return model
    return None


def close_names(name: str, n: int = 5) -> List[str]:
    """Up to ``n`` weights names most like ``name`` (those containing it
    first, then difflib's closest)."""
    names = [m.name for m in list_models()] + [
        a for m in list_models() for a in m.aliases]
    key = name.lower()
    contain = [x for x in names if key and key in x.lower()]
    lowered = {x.lower(): x for x in names}
    similar = [lowered[x] for x in difflib.get_close_matches(
        key, list(lowered), n=n, cutoff=0.4)]
    out: List[str] = []
    for x in contain + similar:
        if x not in out:
            out.append(x)
    return out[:n]


def get_model(name: str) -> ZooModel:
    """The model with weights called ``name``.

    Raises:
        WeightsError: No such name (the message lists close names), or the
            entry has no ``Weights``.
    """
    model = find_model(name)
    if model is None:
        close = close_names(name)
        hint = (f'; close names: {", ".join(close)}' if close else
                '; list them with vitpose_mm.hub.list_models() or '
                '`mim list vitpose_mm`')
        raise WeightsError(f'unknown model name {name!r}{hint}')
    if not model.weights:
        raise WeightsError(
            f'model {model.name} has no released weights (no Weights in '
            f'{model.index}); pass a checkpoint file')
    return model


def model_for_url(url: str) -> Optional[ZooModel]:
    """The first model whose ``Weights`` is ``url``, or None."""
    for model in list_models():
        if model.weights == url:
            return model
    return None
