"""Multi-dataset training pieces for ViTPose+, registered into mmpose.

- :class:`ViTPoseSetDatasetIndex` (``TRANSFORMS``) stamps a sample's
  ``dataset_index``, which picks its MoE expert and its head;
- :class:`ViTPoseMultiDataset` (``DATASETS``) is mmpose's
  ``CombinedDataset`` whose samples keep their own dataset's keypoints and
  metainfo (no conversion to a shared keypoint set);
- :class:`ViTPoseAPT36KDataset` (``DATASETS``) reads APT-36K, whose
  metainfo mmpose lacks (``configs/_base_/datasets/apt36k.py``);
- :class:`ViTPoseInterHand2DDataset` (``DATASETS``) reads InterHand2.6M as
  the original ViTPose did (mmpose 0.x): one 21-keypoint instance per hand.

Bottom-up training: :class:`ViTPoseBottomupGetHeatmapMask` (``TRANSFORMS``)
is mmpose's heatmap mask with a numpy-2-safe mask decoder.
"""
from .apt36k import APT36K_METAINFO, ViTPoseAPT36KDataset
from .bottomup_transforms import ViTPoseBottomupGetHeatmapMask
from .interhand2d import ViTPoseInterHand2DDataset
from .multi_dataset import ViTPoseMultiDataset
from .transforms import ViTPoseSetDatasetIndex

__all__ = ['APT36K_METAINFO', 'ViTPoseAPT36KDataset',
           'ViTPoseBottomupGetHeatmapMask', 'ViTPoseInterHand2DDataset',
           'ViTPoseMultiDataset', 'ViTPoseSetDatasetIndex']
