"""Annotation files checked before a run starts, for the train and test
tools.

mmpose's datasets trust their annotation files: a COCO annotation with 42
keypoint values in a 17-keypoint file is read as 14 keypoints and the run
dies 15 frames deep in the head's loss; NaN keypoints train at ``loss: 0``
and score COCO AP 1.0 (one NaN person in the tiny set: AP 0.089 for a
model at 0.0); category ids of another class train as persons; a repeated
annotation trains twice; a zero-size box or an annotation of an image the
file does not list is dropped without a word; a truncated JPEG kills
training with "Please check whether the file exists". :func:`validate_datasets`
reads each annotation file of the config once, before the runner is
built, and reports the first problem in one line naming the file and the
annotation id (or image). Refused, per kind (the names
:data:`KINDS` counts under ``--skip-invalid``):

- ``'invalid JSON'``: not valid JSON (with line and column), or neither a
  COCO-style file nor MPII's list (always refused);
- ``'malformed entry'``: an image or annotation that is not a JSON
  object;
- ``'keypoint count'``: ``keypoints`` not 3 x K values (COCO style;
  COCO-WholeBody: body, foot, face and both hands together) or ``joints``
  not K rows (MPII), K from the dataset's metainfo;
- ``'non-finite value'``: NaN / infinity (JSON ``NaN``, ``Infinity``) or a
  non-number in keypoints, ``bbox`` (and COCO-WholeBody's part boxes),
  MPII's ``joints``, ``center``, ``scale``;
- ``'visibility flag'``: a COCO-style flag outside {0, 1, 2} (0 not
  labelled, 1 occluded, 2 visible), a COCO-WholeBody foot / face / hand
  flag outside [0, 2] (the released files hold confidences there), an MPII
  ``joints_vis`` outside {0, 1};
- ``'negative box'``: a ``bbox`` that is not [x, y, w, h] with w, h >= 0;
- ``'zero-size box'``: w or h == 0 for a person with a labelled keypoint
  (mmpose drops it silently while COCO's evaluation still counts it;
  unlabelled and crowd entries are ignored by both, so they pass), an MPII
  ``scale`` <= 0;
- ``'category id'``: a ``category_id`` not in the file's ``categories``;
- ``'duplicate annotation'``: an annotation id seen before, or the same
  person (image, box and keypoints) again under another id (MPII: the same
  entry again); the first stays;
- ``'duplicate image'``: an image id listed twice, or one file listed under
  two ids; the first stays;
- ``'unlisted image'``: an annotation whose ``image_id`` is not in
  ``images``;
- ``'missing image'``: an image file that is not there (``data_prefix.img``
  under ``data_root``, as mmpose resolves it);
- ``'undecodable image'``: an image file OpenCV cannot decode, as mmcv's
  loader calls it (a truncated JPEG, a text file named ``.jpg``);
- ``'no person left'``: a training set without any person mmpose keeps
  (not ``iscrowd``, a labelled keypoint: mmpose's own filter; always
  refused).

Images are decoded once (a file shared by several datasets once; an
image that decoded is remembered by real path, size and mtime in
``<work_dir>/checked_annotations/decoded_images.json``, so a resumed or
repeated run in the same work directory does not decode it again), at
1/8 scale in grayscale (``cv2.IMREAD_REDUCED_GRAYSCALE_8``: the
entropy decoding, where truncation and corruption show, runs in full;
the IDCT at 1/64 of the pixels), on every CPU core in threads (OpenCV
releases the GIL). ``benchmarks/validate_data_speed.py`` measures it on a
COCO-train2017-sized file.

The metrics' ground truth is checked too: a ``val_evaluator`` /
``test_evaluator`` ``ann_file`` other than a checked dataset file gets the
same checks but for the keypoint count and the images, so an evaluator
never sees non-finite ground truth.

With ``skip_invalid`` the bad entries are dropped instead and counted per
kind (an image dropped with its annotations); the cleaned file is written
under the work directory and the dataset (and an evaluator reading the
same file) pointed at it. Supported: the COCO-style files of COCO, AIC,
AP-10K, APT-36K, CrowdPose, OCHuman, Human-Art and COCO-WholeBody, and
MPII's list format.
"""
import json
import math
import os
import os.path as osp
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

from mmengine.config import Config

from vitpose_mm.tools.data_root import DATALOADERS, EVALUATORS, _path_holders

#: Problem kinds, in the order counts are reported.
KINDS = ('malformed entry', 'keypoint count', 'non-finite value',
         'visibility flag', 'negative box', 'zero-size box', 'category id',
         'duplicate annotation', 'duplicate image', 'unlisted image',
         'missing image', 'undecodable image')
#: The keypoint arrays of a COCO-WholeBody annotation, in mmpose's order
#: (``CocoWholeBodyDataset.parse_data_info``).
WHOLEBODY_PARTS = ('keypoints', 'foot_kpts', 'face_kpts', 'lefthand_kpts',
                   'righthand_kpts')
#: Its boxes besides ``bbox``.
WHOLEBODY_BOXES = ('face_box', 'lefthand_box', 'righthand_box')
#: File under ``<work_dir>/checked_annotations/`` remembering the images
#: that decoded, by real path, size and mtime.
DECODED_CACHE = 'decoded_images.json'
#: Visibility flags of COCO-style ``keypoints`` and of MPII's ``joints_vis``.
COCO_FLAGS = frozenset((0, 1, 2))
MPII_FLAGS = frozenset((0, 1))


class InvalidData(ValueError):
    """An annotation file that a run cannot use; one line."""


class Problem(NamedTuple):
    """One bad entry of an annotation file.

    ``kind`` is one of :data:`KINDS`; ``target`` says what
    ``--skip-invalid`` drops: ``'annotation'`` (``key``: its index in the
    file's list), ``'image entry'`` (``key``: the index of a repeated
    image entry) or ``'image'`` (``key``: the image id; its annotations go
    with it).
    """
    kind: str
    target: str
    key: object
    message: str


def _num_keypoints(dataset: dict) -> Optional[int]:
    """K of a dataset config (its ``metainfo`` or its class's), or None
    when it is not a pose dataset we know."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    metainfo = dataset.get('metainfo')
    if not metainfo:
        metainfo = getattr(_dataset_class(dataset), 'METAINFO', None)
    if not metainfo:
        return None
    return parse_pose_metainfo(dict(metainfo))['num_keypoints']


def _dataset_class(dataset: dict):
    from mmpose.registry import DATASETS
    kind = dataset.get('type', '')
    return kind if isinstance(kind, type) else DATASETS.get(kind)


def _parts(dataset: dict) -> Tuple[str, ...]:
    """The keypoint arrays mmpose concatenates for ``dataset``."""
    from mmpose.datasets import CocoWholeBodyDataset
    cls = _dataset_class(dataset)
    if isinstance(cls, type) and issubclass(cls, CocoWholeBodyDataset):
        return WHOLEBODY_PARTS
    return ('keypoints', )


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


def _non_finite(values, name: str, width: int = 0) -> Optional[str]:
    """Why ``values`` (a list of numbers) is not finite, or None.

    ``width`` > 0 names the offending value as ``x`` / ``y`` / ``v`` of a
    keypoint (3) or ``x`` / ``y`` of a joint (2).
    """
    if not isinstance(values, (list, tuple)):
        return f'{name} is {type(values).__name__} {values!r:.40}, not a ' \
            'list of numbers'
    try:
        total = sum(values)  # NaN and infinities survive the sum
    except TypeError:
        total = None
    if total is not None and not isinstance(total, bool) and \
            math.isfinite(total):
        return None
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            what = f'{type(value).__name__} {value!r:.40}'
        elif not math.isfinite(value):
            what = repr(value)
        else:
            continue
        if width == 3:
            where = f'{"xyv"[i % 3]} of keypoint {i // 3}'
        elif width == 2:
            where = f'{"xy"[i % 2]} of joint {i // 2}'
        else:
            where = f'value {i}'
        return f'{name} has {what} ({where})'
    return None  # a sum that overflowed: every value is finite


def _flag_problem(flags: Sequence, allowed: frozenset, name: str,
                  allowed_text: str) -> Optional[str]:
    if set(flags) <= allowed:
        return None
    for i, flag in enumerate(flags):
        if flag not in allowed:
            return f'{name} has visibility flag {flag!r} at keypoint {i}, ' \
                f'not one of {allowed_text}'
    return None


def _labelled(ann: dict, keypoints: Sequence) -> bool:
    """Whether mmpose's training filter keeps ``ann`` (a crowd aside):
    a labelled keypoint."""
    if 'num_keypoints' in ann:
        return bool(ann['num_keypoints'])
    return any(v > 0 for v in keypoints[2::3])


def _kept_by_mmpose(ann: dict) -> bool:
    """mmpose's training filter: not a crowd, some keypoint labelled."""
    if ann.get('iscrowd', 0):
        return False
    return _labelled(ann, ann.get('keypoints') or [])


def _image_problems(items: Iterable[Tuple[object, str, str]],
                    decoded: Dict[str, List[int]]
                    ) -> Iterator[Tuple[str, object, str]]:
    """``(kind, key, reason)`` for each ``(key, file, label)`` whose file is
    missing or does not decode.

    ``decoded`` maps the real path of each image known to decode to its
    ``[size, mtime_ns]``; a file whose size and mtime still match is not
    decoded again, and the ones decoded here are added.
    """
    todo, reasons = [], {}
    for key, file, label in items:
        try:
            stat = os.stat(file)
        except OSError:
            stat = None
        if stat is None or not osp.isfile(file):
            yield 'missing image', key, f'{label}: file {file} not found'
            continue
        real = osp.realpath(file)
        if decoded.get(real) != [stat.st_size, stat.st_mtime_ns]:
            todo.append((key, file, label, real, stat))
    unique = {real: stat for _, _, _, real, stat in todo}
    for (real, stat), reason in zip(unique.items(), _decode_all(unique)):
        if reason is None:
            decoded[real] = [stat.st_size, stat.st_mtime_ns]
        else:
            reasons[real] = reason
    for key, file, label, real, _ in todo:
        if real in reasons:
            yield ('undecodable image', key,
                   f'{label}: file {file} {reasons[real]}')


def decode_problem(path: str) -> Optional[str]:
    """Why OpenCV cannot decode the image file ``path`` (as mmcv's loader
    calls it: ``cv2.imdecode`` of the file's bytes), or None.

    Decodes at 1/8 scale in grayscale, which parses every byte of the
    entropy-coded data (a truncated or corrupt JPEG fails) at a fraction
    of a full decode's cost.
    """
    import cv2
    import numpy as np
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        return f'cannot be read ({err.strerror})'
    if not data.size:
        return 'is empty (0 bytes)'
    try:
        img = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8)
    except cv2.error as err:
        img, detail = None, f': {err.msg}'
    else:
        detail = ''
    if img is None or not img.size:
        return (f'does not decode as an image ({data.size} bytes; '
                f'truncated or not an image{detail})')
    return None


def _decode_all(paths: Iterable[str]) -> List[Optional[str]]:
    """:func:`decode_problem` of each path, in threads on every usable CPU
    core (``cv2.imdecode`` releases the GIL; OpenCV's own thread pool is
    set to one thread meanwhile, which measured faster)."""
    import cv2
    paths = list(paths)
    if len(paths) < 64:
        return [decode_problem(p) for p in paths]
    workers = len(os.sched_getaffinity(0)) if hasattr(
        os, 'sched_getaffinity') else (os.cpu_count() or 1)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
            return list(pool.map(decode_problem, paths, chunksize=64))
    finally:
        cv2.setNumThreads(threads)


def _coco_problems(data: dict, path: str, img_dir: Optional[str],
                   num_keypoints: Optional[int],
                   parts: Tuple[str, ...] = ('keypoints', ),
                   decoded: Optional[Dict[str, List[int]]] = None
                   ) -> Iterator[Problem]:
    """The problems of a COCO-style file (module docstring), images first.

    ``img_dir`` None skips the image files (an evaluator's ground truth);
    ``num_keypoints`` None skips the count (only a multiple of 3).
    """
    images = data.get('images') or []
    listed: Dict[object, int] = {}
    files: Dict[str, object] = {}
    to_check = []
    for index, image in enumerate(images):
        if not isinstance(image, dict):
            yield Problem('malformed entry', 'image entry', index,
                          f'{path}: images[{index}] is not an object')
            continue
        image_id, name = image.get('id'), image.get('file_name', '')
        if image_id in listed:
            yield Problem(
                'duplicate image', 'image entry', index,
                f'{path}: image id {image_id} is listed twice (images['
                f'{listed[image_id]}] and images[{index}])')
            continue
        listed[image_id] = index
        if name in files:
            yield Problem(
                'duplicate image', 'image', image_id,
                f'{path}: image id {image_id}: file {name} is also image '
                f'id {files[name]}')
            continue
        files[name] = image_id
        if img_dir is not None:
            to_check.append((image_id, osp.join(img_dir, name),
                             f'{path}: image id {image_id}'))
    for kind, image_id, message in _image_problems(to_check, decoded):
        yield Problem(kind, 'image', image_id, message)

    categories = {
        c.get('id')
        for c in data.get('categories') or [] if isinstance(c, dict)
    }
    wholebody = parts != ('keypoints', )
    expected = None if num_keypoints is None else 3 * num_keypoints
    seen_ids: Dict[object, int] = {}
    seen_people: Dict[int, int] = {}
    anns = data.get('annotations') or []
    for index, ann in enumerate(anns):
        if not isinstance(ann, dict):
            yield Problem('malformed entry', 'annotation', index,
                          f'{path}: annotations[{index}] is not an object')
            continue
        ann_id = ann.get('id')
        where = f"{path}: annotation id {ann_id} (image " \
                f"{ann.get('image_id')})"

        def bad(kind: str, text: str) -> Problem:
            return Problem(kind, 'annotation', index, f'{where} {text}')

        if ann_id in seen_ids:
            yield bad('duplicate annotation',
                      f'repeats annotation id {ann_id} (annotations['
                      f'{seen_ids[ann_id]}] and annotations[{index}])')
            continue
        seen_ids[ann_id] = index
        if ann.get('image_id') not in listed:
            yield bad('unlisted image', 'belongs to an image id that the '
                      "file's images do not list")
            continue
        if categories and ann.get('category_id') not in categories:
            yield bad('category id', f"has category_id "
                      f"{ann.get('category_id')!r}, not one of the file's "
                      f'categories {sorted(categories, key=str)[:10]}')
            continue
        keypoints = ann.get('keypoints')
        if keypoints is None:
            continue  # mmpose skips such an entry
        problem = _non_finite(keypoints, 'keypoints', 3)
        if problem:
            yield bad('non-finite value', problem)
            continue
        total = len(keypoints)
        if wholebody:
            problem = _wholebody_problem(ann, parts)
            if problem:
                yield bad(*problem)
                continue
            total += sum(len(ann.get(part, [])) for part in parts[1:])
        if (expected is not None and total != expected) or total % 3:
            what = ' + '.join(parts) if wholebody else 'keypoint'
            yield bad('keypoint count',
                      f'has {total} {what} values, expected 3 x '
                      f'{num_keypoints} = {expected}' if expected else
                      f'has {total} keypoint values, not 3 per keypoint')
            continue
        problem = _flag_problem(keypoints[2::3], COCO_FLAGS, 'keypoints',
                                '0, 1, 2 (COCO: not labelled, occluded, '
                                'visible)')
        if problem:
            yield bad('visibility flag', problem)
            continue
        bbox = ann.get('bbox')
        labelled = not ann.get('iscrowd', 0) and _labelled(ann, keypoints)
        if bbox is not None:
            problem = _non_finite(bbox, 'bbox')
            if problem:
                yield bad('non-finite value', problem)
                continue
            if len(bbox) != 4 or bbox[2] < 0 or bbox[3] < 0:
                yield bad('negative box', f'has bbox {bbox}: expected '
                          '[x, y, w, h] with w, h >= 0')
                continue
            if labelled and (bbox[2] == 0 or bbox[3] == 0):
                yield bad('zero-size box', f'has bbox {bbox} of zero size '
                          'with labelled keypoints (mmpose would drop '
                          'the person, COCO evaluation would still count '
                          'it)')
                continue
        if labelled:
            person = hash((ann.get('image_id'), tuple(bbox or ()),
                           tuple(keypoints)))
            first = seen_people.get(person)
            if first is not None and _same_person(anns[first], ann):
                yield bad('duplicate annotation',
                          f'is the same person as annotation id '
                          f"{anns[first].get('id')} (same image, box and "
                          'keypoints)')
                continue
            seen_people.setdefault(person, index)


def _wholebody_problem(ann: dict, parts: Tuple[str, ...]
                       ) -> Optional[Tuple[str, str]]:
    """(kind, text) of the first bad foot / face / hand array or part box
    of a COCO-WholeBody annotation, or None."""
    for part in parts[1:]:
        values = ann.get(part, [])
        problem = _non_finite(values, part, 3)
        if problem:
            return 'non-finite value', problem
        for i, flag in enumerate(values[2::3]):
            if not 0 <= flag <= 2:
                return ('visibility flag', f'{part} has visibility {flag!r} '
                        f'at keypoint {i}, outside [0, 2]')
    for box in WHOLEBODY_BOXES:
        if box in ann:
            problem = _non_finite(ann[box], box)
            if problem:
                return 'non-finite value', problem
    return None


def _same_person(a: dict, b: dict) -> bool:
    return all(
        a.get(k) == b.get(k) for k in ('image_id', 'bbox', 'keypoints'))


def _mpii_problems(data: list, path: str, img_dir: str,
                   num_keypoints: int,
                   decoded: Optional[Dict[str, List[int]]] = None
                   ) -> Iterator[Problem]:
    """The same for MPII's list format (one entry per person; the entry
    index is its id)."""
    seen: Dict[int, int] = {}
    to_check = []
    for i, ann in enumerate(data):
        if not isinstance(ann, dict):
            yield Problem('malformed entry', 'annotation', i,
                          f'{path}: entry {i} is not an object')
            continue
        where = f"{path}: entry {i} (image {ann.get('image')})"

        def bad(kind: str, text: str) -> Problem:
            return Problem(kind, 'annotation', i, f'{where} {text}')

        joints = ann.get('joints') or []
        if len(joints) != num_keypoints:
            yield bad('keypoint count', f'has {len(joints)} joints, '
                      f'expected {num_keypoints}')
            continue
        flat = [v for joint in joints for v in (
            joint if isinstance(joint, (list, tuple)) else [joint])]
        problem = (_non_finite(flat, 'joints', 2)
                   or (len(flat) != 2 * num_keypoints
                       and 'joints are not [x, y] pairs')
                   or _non_finite(ann.get('center'), 'center')
                   or _non_finite([ann.get('scale')], 'scale'))
        if problem:
            yield bad('non-finite value', problem)
            continue
        flags = ann.get('joints_vis')
        if flags is not None:
            problem = _non_finite(flags, 'joints_vis') or _flag_problem(
                flags, MPII_FLAGS, 'joints_vis', '0, 1 (MPII: not visible, '
                'visible)')
            if problem:
                yield bad('visibility flag', problem)
                continue
        if ann['scale'] <= 0:
            yield bad('zero-size box', f"has scale {ann['scale']!r}: the "
                      'person box has no size')
            continue
        person = hash((ann.get('image'), tuple(flat), tuple(ann['center']),
                       ann['scale']))
        if person in seen and all(
                data[seen[person]].get(k) == ann.get(k)
                for k in ('image', 'joints', 'center', 'scale')):
            yield bad('duplicate annotation',
                      f'is the same person as entry {seen[person]}')
            continue
        seen.setdefault(person, i)
        to_check.append((i, osp.join(img_dir, ann.get('image', '')), where))
    for kind, i, message in _image_problems(to_check, decoded):
        yield Problem(kind, 'annotation', i, message)


def _drop(data, problems: List[Problem]):
    """``data`` without what ``problems`` name (see :class:`Problem`)."""
    anns = {p.key for p in problems if p.target == 'annotation'}
    if isinstance(data, list):
        return [a for i, a in enumerate(data) if i not in anns]
    entries = {p.key for p in problems if p.target == 'image entry'}
    images = {p.key for p in problems if p.target == 'image'}
    data = dict(data)
    data['images'] = [
        im for i, im in enumerate(data.get('images') or [])
        if i not in entries
        and not (isinstance(im, dict) and im.get('id') in images)
    ]
    data['annotations'] = [
        a for i, a in enumerate(data.get('annotations') or [])
        if i not in anns
        and not (isinstance(a, dict) and a.get('image_id') in images)
    ]
    return data


def count_kinds(problems: Sequence[Problem]) -> str:
    """'2 non-finite value, 1 duplicate annotation' (in :data:`KINDS`
    order)."""
    counts = Counter(p.kind for p in problems)
    return ', '.join(f'{counts[k]} {k}' for k in KINDS if counts[k])


def check_annotation_file(path: str,
                          img_dir: Optional[str],
                          num_keypoints: Optional[int],
                          train: bool,
                          skip_invalid: bool = False,
                          parts: Tuple[str, ...] = ('keypoints', ),
                          decoded: Optional[Dict[str, List[int]]] = None
                          ) -> Tuple[object, List[Problem]]:
    """Check one annotation file (see the module docstring).

    Args:
        path (str): The annotation file.
        img_dir (str, optional): The folder image file names are relative
            to; None checks no image file (an evaluator's ground truth).
        num_keypoints (int, optional): K of the dataset; None checks only
            that keypoints come in triples.
        train (bool): Whether an empty result (after mmpose's filter) is an
            error.
        skip_invalid (bool): Drop bad entries instead of raising.
        parts (tuple[str]): The keypoint arrays the dataset concatenates
            (:data:`WHOLEBODY_PARTS` for COCO-WholeBody).
        decoded (dict, optional): ``{real path: [size, mtime_ns]}`` of the
            images known to decode (not decoded again while unchanged);
            extended with the ones decoded here.

    Returns:
        tuple: (the data, cleaned when ``skip_invalid``; the
        :class:`Problem` s dropped, empty when nothing was).

    Raises:
        InvalidData: The first problem, in one line (always for unreadable
            JSON and an empty training set).
    """
    data = read_json(path)
    decoded = {} if decoded is None else decoded
    if isinstance(data, dict) and 'annotations' in data:
        problems = list(
            _coco_problems(data, path, img_dir, num_keypoints, parts,
                           decoded))
    elif isinstance(data, list) and img_dir is not None:
        problems = list(_mpii_problems(data, path, img_dir, num_keypoints,
                                       decoded))
    elif isinstance(data, list):
        problems = []  # an MPII evaluator reads no ground-truth file
    else:
        raise InvalidData(f'{path}: neither a COCO-style file (no '
                          '"annotations") nor an MPII-style list')
    if problems and not skip_invalid:
        more = (f' (and {len(problems) - 1} more: {count_kinds(problems)})'
                if len(problems) > 1 else '')
        raise InvalidData(problems[0].message + more +
                          '; --skip-invalid drops such entries')
    if problems:
        data = _drop(data, problems)
    if train:
        kept = (sum(map(_kept_by_mmpose, data['annotations']))
                if isinstance(data, dict) else len(data))
        if not kept:
            raise InvalidData(
                f'{path}: no person left for training (every annotation is '
                'a crowd, has no labelled keypoint, or was invalid)')
    return data, problems


def validate_datasets(cfg: Config, sections: Tuple[str, ...],
                      skip_invalid: bool = False) -> Dict[str, int]:
    """Check the annotation files of the datasets and metrics of
    ``sections`` (dataloaders and evaluators).

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
    from vitpose_mm.engine.atomic_files import write_atomically
    dropped, cleaned, checked = {}, {}, set()
    cache = osp.join(cfg.work_dir, 'checked_annotations', DECODED_CACHE)
    decoded = _read_cache(cache)
    known = len(decoded)
    loaders = tuple(s for s in sections if s in DATALOADERS)
    evaluators = tuple(s for s in sections if s in EVALUATORS)
    jobs = []
    for dataset, where in _path_holders(cfg, loaders):
        if not _local_file(dataset.get('ann_file')):
            continue
        num_keypoints = _num_keypoints(dataset)
        if num_keypoints is None:
            continue
        path, img_dir = _paths(dataset)
        jobs.append((dataset, where, path, img_dir, num_keypoints,
                     _parts(dataset)))
    for holder, where in _path_holders(cfg, evaluators):
        # a MultiDatasetEvaluator's datasets only give dataset_meta
        ann_file = holder.get('ann_file')
        if _local_file(ann_file) and '.datasets.' not in where:
            parts = (WHOLEBODY_PARTS if 'WholeBody' in str(
                holder.get('type')) else ('keypoints', ))
            jobs.append((holder, where, ann_file, None, None, parts))
    for holder, where, path, img_dir, num_keypoints, parts in jobs:
        real = osp.realpath(path)
        if img_dir is None and real in checked:
            continue  # the metric reads a file a dataset was checked on
        checked.add(real)
        try:
            data, problems = check_annotation_file(
                path, img_dir, num_keypoints,
                train=where.startswith('train_dataloader.'),
                skip_invalid=skip_invalid, parts=parts, decoded=decoded)
        except InvalidData as err:
            raise SystemExit(f'vitpose_mm: {err}') from None
        if problems:
            out_dir = osp.join(cfg.work_dir, 'checked_annotations')
            os.makedirs(out_dir, exist_ok=True)
            out = osp.abspath(osp.join(out_dir, f'{where}.json'))
            write_atomically(out, json.dumps(data))
            holder['ann_file'] = out
            if img_dir is not None:
                cleaned[real] = out
            dropped[path] = len(problems)
            print(f'vitpose_mm: --skip-invalid dropped {len(problems)} '
                  f'entries of {path} ({count_kinds(problems)}; first: '
                  f'{problems[0].message}); using {out}')
    _repoint_evaluators(cfg, cleaned)
    if len(decoded) > known:
        os.makedirs(osp.dirname(cache), exist_ok=True)
        write_atomically(cache, json.dumps(decoded))
    return dropped


def _read_cache(path: str) -> Dict[str, List[int]]:
    """The decoded-images cache at ``path``; empty when absent or
    unreadable (it is only a cache)."""
    try:
        with open(path, encoding='utf-8') as f:
            cache = json.load(f)
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _local_file(path) -> bool:
    return isinstance(path, str) and '://' not in path


def _repoint_evaluators(cfg: Config, cleaned: Dict[str, str]) -> None:
    """Point metrics whose ``ann_file`` is a cleaned original file (a key
    of ``cleaned``, real paths) at its cleaned copy."""
    for holder, _ in _path_holders(cfg, EVALUATORS):
        ann_file = holder.get('ann_file')
        if isinstance(ann_file, str) and osp.realpath(ann_file) in cleaned:
            holder['ann_file'] = cleaned[osp.realpath(ann_file)]
