"""A dataset's keypoint definition checked against itself and the model,
before a run starts (train tool).

A user's own keypoint set comes as mmpose's ``metainfo=dict(from_file=
'my_keypoints.py')`` (a ``dataset_info`` with ``keypoint_info``,
``skeleton_info`` ...). mmpose resolves the skeleton's and the flip pairs'
keypoint names while it builds the dataset, so a typo dies in a
``KeyError`` deep in the dataset's constructor; and a head whose
``out_channels`` is not the set's K trains until the loss compares
tensors of different shapes. :func:`check_metainfo` refuses both in one
line naming the file and the value. A dataset that states no ``metainfo``
is checked with its class's ``METAINFO`` (e.g. ``OneHand10KDataset``'s
21 keypoints), so a stock dataset with a wrong ``out_channels`` is refused
the same way.
"""
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config

from vitpose_mm.tools.data_root import _iter_datasets


def _dataset_info(metainfo: dict, where: str) -> Tuple[Optional[dict], str]:
    """(``dataset_info`` dict, its source) of a dataset's ``metainfo``,
    read the way mmpose's ``parse_pose_metainfo`` finds ``from_file``."""
    if 'from_file' not in metainfo:
        return metainfo, where
    path = metainfo['from_file']
    if not osp.isfile(path):
        import mmpose
        packaged = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                            '_base_', 'datasets', osp.basename(path))
        if not osp.isfile(packaged):
            raise SystemExit(f'vitpose_mm: {where}.metainfo.from_file: no '
                             f'such file {path!r}')
        path = packaged
    info = Config.fromfile(path).get('dataset_info')
    if not isinstance(info, dict):
        raise SystemExit(f'vitpose_mm: {path} has no dataset_info dict')
    return info.to_dict() if hasattr(info, 'to_dict') else info, path


def keypoint_problem(info: dict) -> Optional[str]:
    """The first problem of a ``dataset_info``: no keypoints, a repeated
    keypoint name, or a skeleton link / flip pair (``swap``) naming a
    keypoint the set does not have. None when it is consistent."""
    keypoints = info.get('keypoint_info')
    if not isinstance(keypoints, dict) or not keypoints:
        return 'keypoint_info is missing or empty'
    names = [k.get('name') for k in keypoints.values()]
    for name in names:
        if names.count(name) > 1:
            return f'keypoint name {name!r} is used twice'
    known = set(names)
    for kid, kpt in keypoints.items():
        swap = kpt.get('swap', '')
        if swap and swap not in known:
            return (f'keypoint {kid} ({kpt.get("name")!r}) has swap='
                    f'{swap!r}, which is not one of its keypoints')
    for sid, link in (info.get('skeleton_info') or {}).items():
        for name in link.get('link', ()):
            if name not in known:
                return (f'skeleton_info[{sid}] links {name!r}, which is not '
                        f'one of its keypoints {sorted(known)}')
    return None


def _class_metainfo(dataset_type) -> Optional[dict]:
    """The ``METAINFO`` of a registered mmpose dataset class (ours
    included), or None when the type is unknown or has none."""
    if not isinstance(dataset_type, str):
        return None
    import mmpose.datasets  # noqa: F401  (fills mmpose's DATASETS)
    import vitpose_mm.datasets  # noqa: F401
    from mmpose.registry import DATASETS
    cls = DATASETS.get(dataset_type)
    metainfo = getattr(cls, 'METAINFO', None)
    return dict(metainfo) if isinstance(metainfo, dict) else None


def check_metainfo(cfg: Config, sections: Tuple[str, ...]) -> None:
    """Check every dataset of ``sections`` (e.g. ``('train_dataloader',)``)
    that states its ``metainfo`` (else, outside combined datasets and
    keypoint converters, its class's ``METAINFO``), and its K against a
    top-down model's ``head.out_channels``.

    Raises:
        SystemExit: One line naming the metainfo file and the problem
            (:func:`keypoint_problem`), or the two keypoint counts.
    """
    model = cfg.get('model') or {}
    head = model.get('head') or {}
    out = head.get('out_channels') if model.get(
        'type') == 'TopdownPoseEstimator' else None
    for section in sections:
        dataset = (cfg.get(section) or {}).get('dataset')
        if not isinstance(dataset, dict):
            continue
        for ds, where in _iter_datasets(dataset, f'{section}.dataset'):
            metainfo = ds.get('metainfo')
            converted = '.datasets.' in where or any(
                isinstance(step, dict) and step.get('type') ==
                'KeypointConverter' for step in ds.get('pipeline') or ())
            if not metainfo and not converted and not ds.get('datasets'):
                # A member of a combined dataset or a pipeline with
                # mmpose's KeypointConverter may map to another K.
                metainfo = _class_metainfo(ds.get('type'))
            if not isinstance(metainfo, dict) or not metainfo:
                continue
            info, source = _dataset_info(metainfo, where)
            problem = keypoint_problem(info)
            if problem:
                raise SystemExit(f'vitpose_mm: {source}: {problem}')
            k = len(info['keypoint_info'])
            if isinstance(out, int) and k != out and not ds.get('datasets'):
                raise SystemExit(
                    f'vitpose_mm: {source} defines {k} keypoints but the '
                    f'model predicts {out} (model.head.out_channels); set '
                    f'model.head.out_channels={k}')
