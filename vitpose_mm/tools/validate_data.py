"""Annotation files checked before a run starts, for the train and test
tools.

mmpose's datasets trust their annotation files: a COCO annotation with 42
keypoint values in a 17-keypoint file is read as 14 keypoints and the run
dies 15 frames deep in the head's loss; a truncated JSON file is a bare
``JSONDecodeError``; a missing image is a long traceback from the loader;
a set whose every person is invisible ends in ``need at least one array to
concatenate``. :func:`validate_datasets` reads each dataset's annotation
file of the config once, before the runner is built, and reports the first
problem in one line naming the file and the annotation id (or image):

- the file is not valid JSON (with line and column);
- an annotation's ``keypoints`` length is not 3 x K (COCO style) or its
  ``joints`` are not K rows (MPII's list format), K from the dataset's
  metainfo;
- a ``bbox`` with a negative width or height;
- an image file that is not there (``data_prefix.img`` under
  ``data_root``, as mmpose resolves it);
- a training set left without any person mmpose keeps (not ``iscrowd``,
  at least one labelled keypoint: mmpose's own filter).

With ``skip_invalid`` the bad annotations (and the images whose files are
missing, with their annotations) are dropped instead and counted; the
cleaned file is written under the work directory and the dataset pointed
at it. Supported: the COCO-style files of COCO, AIC, AP-10K, APT-36K,
CrowdPose, OCHuman and COCO-WholeBody, and MPII's list format.
"""
import json
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config

from vitpose_mm.tools.data_root import DATALOADERS, _path_holders


class InvalidData(ValueError):
    """An annotation file that a run cannot use; one line."""


def _num_keypoints(dataset: dict) -> Optional[int]:
    """K of a dataset config (its ``metainfo`` or its class's), or None
    when it is not a pose dataset we know."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    metainfo = dataset.get('metainfo')
    if not metainfo:
        cls = DATASETS.get(dataset.get('type', ''))
        metainfo = getattr(cls, 'METAINFO', None)
    if not metainfo:
        return None
    return parse_pose_metainfo(dict(metainfo))['num_keypoints']


def _paths(dataset: dict) -> Tuple[str, str]:
    """(annotation file, image folder) as mmengine's BaseDataset joins
    them with ``data_root``."""
    root = dataset.get('data_root') or ''
    ann_file = dataset['ann_file']
    if not osp.isabs(ann_file):
        ann_file = osp.join(root, ann_file)
    img = (dataset.get('data_prefix') or {}).get('img', '')
    if not osp.isabs(img):
        img = osp.join(root, img)
    return ann_file, img


def read_json(path: str):
    """``json.load`` with the file named in the error.

    Raises:
        InvalidData: The file is not valid JSON or cannot be read.
    """
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise InvalidData(f'{path}: not valid JSON ({err.msg} at line '
                          f'{err.lineno}, column {err.colno})') from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidData(f'{path}: cannot be read ({err})') from None


def _coco_problems(data: dict, path: str, img_dir: str,
                   num_keypoints: int) -> Iterator[Tuple[str, str, int]]:
    """Yield ``(message, kind, id)`` per bad image / annotation of a
    COCO-style file; kind is 'image' or 'annotation'."""
    for image in data.get('images', []):
        file = osp.join(img_dir, image.get('file_name', ''))
        if not osp.isfile(file):
            yield (f"{path}: image id {image.get('id')}: file {file} not "
                   'found', 'image', image.get('id'))
    for ann in data.get('annotations', []):
        where = f"{path}: annotation id {ann.get('id')} (image " \
                f"{ann.get('image_id')})"
        keypoints = ann.get('keypoints')
        if keypoints is not None and len(keypoints) != 3 * num_keypoints:
            yield (f'{where} has {len(keypoints)} keypoint values, expected '
                   f'3 x {num_keypoints} = {3 * num_keypoints}',
                   'annotation', ann.get('id'))
            continue
        bbox = ann.get('bbox')
        if bbox is not None and (len(bbox) != 4 or bbox[2] < 0
                                 or bbox[3] < 0):
            yield (f'{where} has bbox {bbox}: expected [x, y, w, h] with '
                   'w, h >= 0', 'annotation', ann.get('id'))


def _mpii_problems(data: list, path: str, img_dir: str,
                   num_keypoints: int) -> Iterator[Tuple[str, str, int]]:
    """The same for MPII's list format (one entry per person; the entry
    index is its id)."""
    for i, ann in enumerate(data):
        where = f"{path}: entry {i} (image {ann.get('image')})"
        joints = ann.get('joints') or []
        if len(joints) != num_keypoints:
            yield (f'{where} has {len(joints)} joints, expected '
                   f'{num_keypoints}', 'annotation', i)
            continue
        file = osp.join(img_dir, ann.get('image', ''))
        if not osp.isfile(file):
            yield f'{where}: file {file} not found', 'annotation', i


def _kept_by_mmpose(ann: dict) -> bool:
    """mmpose's training filter: not a crowd, some keypoint labelled."""
    if ann.get('iscrowd', 0):
        return False
    if 'num_keypoints' in ann:
        return ann['num_keypoints'] > 0
    return any(v > 0 for v in (ann.get('keypoints') or [])[2::3])


def check_annotation_file(path: str, img_dir: str, num_keypoints: int,
                          train: bool, skip_invalid: bool = False
                          ) -> Tuple[object, List[str]]:
    """Check one annotation file (see the module docstring).

    Args:
        path (str): The annotation file.
        img_dir (str): The folder image file names are relative to.
        num_keypoints (int): K of the dataset.
        train (bool): Whether an empty result (after mmpose's filter) is an
            error.
        skip_invalid (bool): Drop bad entries instead of raising.

    Returns:
        tuple: (the data, cleaned when ``skip_invalid``; the messages of
        what was dropped, empty when nothing was).

    Raises:
        InvalidData: The first problem, in one line (always for unreadable
            JSON and an empty training set).
    """
    data = read_json(path)
    if isinstance(data, dict) and 'annotations' in data:
        problems = list(_coco_problems(data, path, img_dir, num_keypoints))
    elif isinstance(data, list):
        problems = list(_mpii_problems(data, path, img_dir, num_keypoints))
    else:
        raise InvalidData(f'{path}: neither a COCO-style file (no '
                          '"annotations") nor an MPII-style list')
    if problems and not skip_invalid:
        more = f' (and {len(problems) - 1} more)' if len(problems) > 1 else ''
        raise InvalidData(problems[0][0] + more +
                          '; --skip-invalid drops such entries')
    if problems:
        bad_images = {i for _, kind, i in problems if kind == 'image'}
        bad_anns = {i for _, kind, i in problems if kind == 'annotation'}
        if isinstance(data, dict):
            data = dict(data)
            data['images'] = [
                im for im in data['images'] if im.get('id') not in bad_images
            ]
            data['annotations'] = [
                a for a in data['annotations']
                if a.get('id') not in bad_anns
                and a.get('image_id') not in bad_images
            ]
        else:
            data = [a for i, a in enumerate(data) if i not in bad_anns]
    if train:
        kept = (sum(map(_kept_by_mmpose, data['annotations']))
                if isinstance(data, dict) else len(data))
        if not kept:
            raise InvalidData(
                f'{path}: no person left for training (every annotation is '
                'a crowd, has no labelled keypoint, or was invalid)')
    return data, [message for message, _, _ in problems]


def validate_datasets(cfg: Config, sections: Tuple[str, ...],
                      skip_invalid: bool = False) -> Dict[str, int]:
    """Check the annotation files of the datasets of ``sections``.

    With ``skip_invalid``, each file with bad entries is written cleaned to
    ``<work_dir>/checked_annotations/`` and its dataset's ``ann_file`` set
    to that file (``cfg`` is modified), as is the ``ann_file`` of a
    ``val_evaluator`` / ``test_evaluator`` that names the same original
    file (mmpose's ``CocoMetric`` reads its ground truth from there).

    Returns:
        dict: Dropped entries per original annotation file (only with
        ``skip_invalid``).

    Raises:
        SystemExit: One line, ``vitpose_mm: <problem>``.
    """
    dropped, cleaned = {}, {}
    loaders = tuple(s for s in sections if s in DATALOADERS)
    for dataset, where in _path_holders(cfg, loaders):
        if not isinstance(dataset.get('ann_file'), str) or \
                '://' in dataset['ann_file']:
            continue
        num_keypoints = _num_keypoints(dataset)
        if num_keypoints is None:
            continue
        path, img_dir = _paths(dataset)
        try:
            data, problems = check_annotation_file(
                path, img_dir, num_keypoints,
                train=where.startswith('train_dataloader.'),
                skip_invalid=skip_invalid)
        except InvalidData as err:
            raise SystemExit(f'vitpose_mm: {err}') from None
        if problems:
            out_dir = osp.join(cfg.work_dir, 'checked_annotations')
            os.makedirs(out_dir, exist_ok=True)
            out = osp.abspath(osp.join(out_dir, f'{where}.json'))
            with open(out, 'w', encoding='utf-8') as f:
                json.dump(data, f)
            dataset['ann_file'] = out
            cleaned[osp.realpath(path)] = out
            dropped[path] = len(problems)
            print(f'vitpose_mm: --skip-invalid dropped {len(problems)} '
                  f'entries of {path} (first: {problems[0]}); using {out}')
    _repoint_evaluators(cfg, cleaned)
    return dropped


def _repoint_evaluators(cfg: Config, cleaned: Dict[str, str]) -> None:
    """Point evaluators whose ``ann_file`` is a cleaned original file (a
    key of ``cleaned``, real paths) at its cleaned copy."""
    for name in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(name)
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for evaluator in evaluators or []:
            ann_file = (evaluator.get('ann_file')
                        if isinstance(evaluator, dict) else None)
            if isinstance(ann_file, str) and \
                    osp.realpath(ann_file) in cleaned:
                evaluator['ann_file'] = cleaned[osp.realpath(ann_file)]
