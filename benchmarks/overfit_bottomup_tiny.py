"""Overfit benchmark: a small bottom-up ViTPose from random init learns tiny
COCO without ground-truth boxes.

The 4 images of ``../shared/data/coco`` (14 annotated people) are both the
training and the evaluation set; the model sees whole images (no person
boxes, no detector), groups keypoints with associative embedding, and is
scored by mmpose's ``CocoMetric`` every 50 epochs (no flip test: see the
config). The config is ``configs/body_2d_keypoint/associative_embedding/
coco_tiny/vitpose-mm_ae_ViTPose-tiny_1xb4-1000e_coco-tiny-overfit-512x512.py``
(192/4/6 at 512x512, random init). Training and reporting are those of
:mod:`benchmarks.overfit_coco_tiny` (same hook, options and exit status),
with this config, a target AP of 0.5 and its own work dir::

    .venv/bin/python benchmarks/overfit_bottomup_tiny.py \\
        [--data-root ../shared/data/coco] [--target 0.5] [--time-limit 1800]

A benchmark, not a test: minutes to tens of minutes on a 2-core CPU.
"""
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import overfit_coco_tiny  # noqa: E402

REPO = overfit_coco_tiny.REPO
CONFIG = osp.join(
    REPO, 'configs/body_2d_keypoint/associative_embedding/coco_tiny/'
    'vitpose-mm_ae_ViTPose-tiny_1xb4-1000e_coco-tiny-overfit-512x512.py')


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = ['--config', CONFIG, '--target', '0.5', '--work-dir',
                osp.join(REPO, 'outputs', 'overfit_bottomup_tiny')]
    # Options given on the command line come last and win.
    return overfit_coco_tiny.main(defaults + argv)


if __name__ == '__main__':
    sys.exit(main())
