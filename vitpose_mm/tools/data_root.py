"""Data-root handling shared by :mod:`vitpose_mm.tools.train` and ``test``.

mmengine substitutes a config's top-level ``data_root`` while it parses the
file, so ``--cfg-options data_root=PATH`` alone changes nothing: the datasets
and metrics keep the paths built from the old root. :func:`redirect_data_root`
moves them to the new root, and :func:`check_data_files` turns missing data
into one readable line instead of a traceback deep inside a dataset.
"""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

#: Config sections that hold datasets and metrics.
DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
#: Keys whose string values are paths under the data root.
PATH_KEYS = ('data_root', 'ann_file', 'bbox_file')


def _iter_datasets(dataset: dict, where: str) -> Iterator[Tuple[dict, str]]:
    """Yield ``(dataset_cfg, dotted_name)`` for a dataset and any datasets
    it wraps (``RepeatDataset.dataset``, ``CombinedDataset.datasets``)."""
    yield dataset, where
    inner = dataset.get('dataset')
    if isinstance(inner, dict):
        yield from _iter_datasets(inner, f'{where}.dataset')
    for i, inner in enumerate(dataset.get('datasets') or []):
        if isinstance(inner, dict):
            yield from _iter_datasets(inner, f'{where}.datasets.{i}')


def _path_holders(
    cfg: Config,
    sections: Tuple[str, ...] = DATALOADERS + EVALUATORS
) -> Iterator[Tuple[dict, str]]:
    """Yield every dataset and metric dict of ``sections`` with its name."""
    for section in sections:
        value = cfg.get(section)
        if section in DATALOADERS:
            if isinstance(value, dict) and isinstance(
                    value.get('dataset'), dict):
                yield from _iter_datasets(value['dataset'],
                                          f'{section}.dataset')
        elif isinstance(value, dict):
            yield value, section
            # mmpose's MultiDatasetEvaluator: one metric and one dataset
            # per entry of its ``metrics`` / ``datasets`` lists.
            for i, metric in enumerate(value.get('metrics') or []):
                if isinstance(metric, dict):
                    yield metric, f'{section}.metrics.{i}'
            for i, dataset in enumerate(value.get('datasets') or []):
                if isinstance(dataset, dict):
                    yield from _iter_datasets(dataset,
                                              f'{section}.datasets.{i}')
        elif isinstance(value, (list, tuple)):
            for i, metric in enumerate(value):
                if isinstance(metric, dict):
                    yield metric, f'{section}.{i}'


def _rebase(path: str, old_root: str, new_root: str) -> Optional[str]:
    """``path`` moved from ``old_root`` to ``new_root``, or None if it is
    not ``old_root`` itself or a path inside it."""
    if path == old_root:
        return new_root
    if not path.startswith(old_root):
        return None
    rest = path[len(old_root):]
    if not (old_root.endswith('/') or rest.startswith('/')):
        return None  # 'data/coco2/x' is not inside 'data/coco'
    return osp.join(new_root, rest.lstrip('/'))


def redirect_data_root(cfg: Config, old_root: Optional[str]) -> List[str]:
    """Apply an overridden top-level ``cfg.data_root`` to the datasets.

    Call it after merging ``--cfg-options`` into ``cfg``, with the
    ``data_root`` the config file itself defined. Every ``data_root``,
    ``ann_file`` and ``bbox_file`` of the train/val/test datasets (wrapped
    datasets included) and of the val/test metrics (the metrics and
    datasets of a ``MultiDatasetEvaluator`` included) that is ``old_root`` or
    was built as ``old_root + relative`` becomes ``new_root`` or
    ``new_root/relative``. Values the user set explicitly to something
    else, and paths outside the old root, are left alone.

    Args:
        cfg (Config): The config, modified in place.
        old_root (str, optional): ``data_root`` before the overrides.

    Returns:
        list[str]: The dotted names of the keys that were changed.
    """
    new_root = cfg.get('data_root')
    if not old_root or not new_root or new_root == old_root:
        return []
    changed = []
    for holder, where in _path_holders(cfg):
        for key in PATH_KEYS:
            value = holder.get(key)
            if not isinstance(value, str):
                continue
            moved = _rebase(value, old_root, new_root)
            if moved is not None:
                holder[key] = moved
                changed.append(f'{where}.{key}')
    return changed


def _is_local(path: str) -> bool:
    return '://' not in path


def missing_data_files(cfg: Config, sections: Tuple[str, ...]) -> List[str]:
    """List, one line each, the data files of ``sections`` that are absent.

    Checks each dataset's ``data_root``, its ``ann_file`` (joined with the
    data root when relative, as mmengine's ``BaseDataset`` does) and its
    ``bbox_file``, and each metric's ``ann_file``. Remote paths
    (``s3://...``) are not checked.
    """
    missing = []

    def check(path: Optional[str], what: str) -> None:
        if path and _is_local(path) and not osp.exists(path):
            missing.append(f'{what} = {path!r} ({osp.abspath(path)})')

    for holder, where in _path_holders(cfg, sections):
        if where.split('.')[0] in EVALUATORS:
            check(holder.get('ann_file'), f'{where}.ann_file')
            continue
        root = holder.get('data_root') or ''
        check(root, f'{where}.data_root')
        ann_file = holder.get('ann_file')
        if ann_file and not osp.isabs(ann_file) and _is_local(ann_file):
            ann_file = osp.join(root, ann_file)
        check(ann_file, f'{where}.ann_file')
        check(holder.get('bbox_file'), f'{where}.bbox_file')
    return missing


def load_run_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config file, merge ``--cfg-options`` and redirect its data.

    Args:
        path (str): The config file.
        cfg_options (dict, optional): Overrides, as parsed by mmengine's
            ``DictAction``; a ``data_root`` among them is applied to the
            datasets and metrics by :func:`redirect_data_root`.

    Raises:
        SystemExit: If ``path`` is not a file.
    """
    if not osp.isfile(path):
        raise SystemExit(f'vitpose_mm: config file not found: {path!r}')
    cfg = Config.fromfile(path)
    old_root = cfg.get('data_root')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    changed = redirect_data_root(cfg, old_root)
    if changed:
        print_log(
            f"data_root {old_root!r} -> {cfg.data_root!r} in "
            f"{', '.join(changed)}",
            logger='current')
    return cfg


def check_data_files(cfg: Config, sections: Tuple[str, ...]) -> None:
    """Exit with one clear message if data files of ``sections`` are absent.

    Raises:
        SystemExit: Naming the first missing path, the config key it comes
            from and how to point the tools at the data.
    """
    missing = missing_data_files(cfg, sections)
    if missing:
        raise SystemExit(
            f'vitpose_mm: data not found: {missing[0]}. Put the dataset '
            f"there, or pass --cfg-options data_root=/path/to/data/ (now "
            f"{cfg.get('data_root')!r}).")
