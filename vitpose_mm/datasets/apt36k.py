"""APT-36K (Yang et al., NeurIPS'22 Datasets and Benchmarks) for mmpose.

APT-36K ships COCO-style annotations with AP-10K's 17 keypoints, so the
dataset is mmpose's :class:`~mmpose.datasets.AP10KDataset` loader with its
own metainfo, ``configs/_base_/datasets/apt36k.py`` (AP-10K's keypoints,
skeleton and OKS sigmas under the name ``'apt36k'``; the file says where
this comes from). The original ViTPose(+) reads APT-36K with
``AnimalAP10KDataset`` and AP-10K's dataset_info, which this reproduces.
"""
from pathlib import Path

from mmpose.datasets import AP10KDataset
from mmpose.registry import DATASETS

_RELPATH = Path('_base_', 'datasets', 'apt36k.py')


def _metainfo_file() -> str:
    """Path of the APT-36K metainfo config.

    Looked up, as mmpose does for its own metainfo files, in the installed
    package's ``.mim/configs`` and then in the checkout's ``configs``; if
    neither exists the path relative to the working directory is returned
    and mmpose names it when it fails to read it.
    """
    package = Path(__file__).resolve().parents[1]
    for configs in (package / '.mim' / 'configs', package.parent / 'configs'):
        if (configs / _RELPATH).is_file():
            return str(configs / _RELPATH)
    return str(Path('configs') / _RELPATH)


#: ``metainfo`` of APT-36K, as mmpose's dataset ``METAINFO`` dicts.
APT36K_METAINFO = dict(from_file=_metainfo_file())


@DATASETS.register_module()
class ViTPoseAPT36KDataset(AP10KDataset):
    """APT-36K: AP-10K's COCO-style loader with APT-36K's metainfo.

    Takes the arguments of :class:`~mmpose.datasets.AP10KDataset`
    (``ann_file``, ``data_root``, ``data_prefix``, ``pipeline`` ...). The
    original splits are ``annotations/train_annotations_1.json`` and
    ``annotations/val_annotations_1.json``.
    """

    METAINFO: dict = APT36K_METAINFO
