"""mmpose's ``CombinedDataset`` without the keypoint unification.

mmpose's :class:`~mmpose.datasets.CombinedDataset` is built for datasets
converted to one keypoint set: it overwrites every sample's
``flip_indices``, ``flip_pairs``, upper/lower-body ids and keypoint weights
with those of the combined ``metainfo``. ViTPose+ trains one head per
dataset on that dataset's own keypoints (17 COCO, 14 AIC, 16 MPII, 17
AP-10K / APT-36K, 133 COCO-WholeBody), so each sample must keep its own.

The original ViTPose+ pads every target to 133 keypoints
(``max_num_joints``) to stack them, and never slices them back, so heads with
fewer keypoints get targets of the wrong size; nothing is padded here: each
head gets only its own samples (see
:class:`~vitpose_mm.models.ViTPosePlusEstimator`).
"""
from typing import Any

from mmpose.datasets import CombinedDataset
from mmpose.registry import DATASETS


@DATASETS.register_module()
class ViTPoseMultiDataset(CombinedDataset):
    """Concatenation of datasets, each with its own pipeline and metainfo.

    A sample is what its dataset returns (its own pipeline applied, e.g.
    ending in ``PackPoseInputs``), then this wrapper's ``pipeline`` (empty
    by default). Nothing is overwritten: the sample keeps its dataset's
    keypoint count, ``flip_indices`` and ``dataset_name``. Put a
    :class:`~vitpose_mm.datasets.ViTPoseSetDatasetIndex` in each dataset's
    pipeline to route it.

    Mixed-image transforms (``Mosaic``, ...) are not supported: unlike
    ``CombinedDataset``, no ``'dataset'`` entry is added to the sample.

    Args:
        metainfo (dict): As for ``CombinedDataset``; it is not used to
            process samples, only reported as this dataset's ``metainfo``
            (runner checkpoints, visualiser defaults).
        datasets (list[dict]): Dataset configs; their order is the order
            of the samples.
        pipeline (list): Applied after each dataset's own pipeline.
        sample_ratio_factor (list[float], optional): As for
            ``CombinedDataset``.
    """

    def get_data_info(self, idx: int) -> Any:
        """The ``idx``-th sample, processed by its own dataset's pipeline.

        Raises:
            ValueError: If ``idx`` is out of range (``CombinedDataset``).
        """
        subset_idx, sample_idx = self._get_subset_index(idx)
        data_info = self.datasets[subset_idx][sample_idx]
        if isinstance(data_info, dict):
            # Set by the sub-dataset for its own mixed transforms.
            data_info.pop('dataset', None)
        return data_info

    def prepare_data(self, idx: int) -> Any:
        """Sample ``idx`` through this wrapper's ``pipeline``."""
        return self.pipeline(self.get_data_info(idx))
