"""InterHand2.6M as single hands (21 keypoints) for top-down 2D hand pose.

The original ViTPose trains and tests InterHand2.6M with mmpose 0.x's
``InterHand2DDataset`` (``mmpose/datasets/datasets/hand/
interhand2d_dataset.py`` in ViTAE-Transformer/ViTPose; configs
``configs/hand/2d_kpt_sview_rgb_img/topdown_heatmap/interhand2d/
ViTPose_*_interhand2d_all_256x192.py``). mmpose 1.x only ships
:class:`~mmpose.datasets.InterHand2DDoubleDataset`, one instance of 42
keypoints (right hand 0-20, left hand 21-41) per image. This subclass keeps
that loader (camera projection, root-validity masking) and splits each
image's instance the way the 0.x dataset did:

- one instance per hand, 21 keypoints in the order of mmpose's
  ``configs/_base_/datasets/interhand2d.py`` (thumb4 ... pinky1, wrist);
  the right and the left hand share the 21 channels (no flip pairs);
- a hand is kept only when more than 11 of its 21 joints are valid after
  the wrist (root) mask;
- its ``bbox`` (x1, y1, x2, y2, pixels) is the tightest box around its
  valid keypoints, not the annotation's ``bbox``: the 0.x dataset uses it
  both as the crop (padded 1.5x, ``GetBBoxCenterScale(padding=1.5)`` in
  our configs) and as the PCK normaliser (``max(w, h)``), which mmpose's
  ``PCKAccuracy(norm_item='bbox')`` reads from ``bboxes``.
"""
import os.path as osp
from typing import List, Tuple

import mmpose
import numpy as np
from mmpose.datasets import InterHand2DDoubleDataset
from mmpose.registry import DATASETS

#: Keypoints per hand.
HAND_KEYPOINTS = 21
#: A hand needs more than this many valid joints (the 0.x dataset's rule).
MIN_VALID_JOINTS = 11


@DATASETS.register_module()
class ViTPoseInterHand2DDataset(InterHand2DDoubleDataset):
    """InterHand2.6M, one 21-keypoint instance per valid hand.

    Takes the arguments of :class:`~mmpose.datasets.InterHand2DDoubleDataset`
    (``ann_file``, ``camera_param_file``, ``joint_file``, ``data_root``,
    ``data_prefix``, ``pipeline`` ...). Each data info holds
    ``keypoints`` (1, 21, 2) in image pixels, ``keypoints_visible`` (1, 21),
    ``bbox`` (1, 4) xyxy, ``hand`` (``'right'`` or ``'left'``) and the
    image's ``hand_type``.

    Raises:
        ValueError: If the metainfo does not define 21 keypoints.
    """

    #: mmpose's 21-keypoint InterHand2.6M metainfo, from the installed
    #: package (so mmpose does not warn that a relative path is missing).
    METAINFO: dict = dict(from_file=osp.join(
        osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets',
        'interhand2d.py'))

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """The parent's 42-keypoint image instances, split into hands."""
        if self.metainfo['num_keypoints'] != HAND_KEYPOINTS:
            raise ValueError(
                f'{type(self).__name__}: metainfo defines '
                f'{self.metainfo["num_keypoints"]} keypoints, a hand has '
                f'{HAND_KEYPOINTS}')
        doubles, images = super()._load_annotations()
        hands = []
        for double in doubles:
            for side, first in (('right', 0), ('left', HAND_KEYPOINTS)):
                hand = self._one_hand(double, first)
                if hand is not None:
                    hands.append(dict(hand, hand=side))
        return hands, images

    @staticmethod
    def _one_hand(double: dict, first: int):
        """The data info of keypoints ``first:first + 21`` of a 42-keypoint
        instance, or None when too few of them are valid."""
        part = slice(first, first + HAND_KEYPOINTS)
        keypoints = double['keypoints'][:, part]  # (1, 21, 2)
        visible = double['keypoints_visible'][:, part]  # (1, 21)
        if visible.sum() <= MIN_VALID_JOINTS:
            return None
        valid = keypoints[0][visible[0] > 0]  # (V, 2)
        bbox = np.concatenate([valid.min(0), valid.max(0)])[None]
        return dict(
            double, keypoints=keypoints, keypoints_visible=visible,
            bbox=bbox.astype(np.float32), num_keypoints=HAND_KEYPOINTS)
