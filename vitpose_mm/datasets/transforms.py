"""The transform that tells ViTPose+ which dataset a sample comes from."""
from typing import Dict

from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ViTPoseSetDatasetIndex(BaseTransform):
    """Stamp ``results['dataset_index'] = dataset_index``.

    ``dataset_index`` is the one name for "which dataset" from the data to
    the FFN: the transform writes it, ``PackPoseInputs(meta_keys=... +
    ('dataset_index',))`` keeps it in the data sample's metainfo,
    :class:`~vitpose_mm.models.ViTPosePlusEstimator` reads it, passes the
    (B,) tensor to the backbone, whose MoE FFNs pick expert
    ``dataset_index`` (in the released checkpoints, the position in
    :data:`~vitpose_mm.checkpoint.experts.RELEASED_DATASETS`), and sends
    the sample to head ``dataset_index``. The original passes it as ``dataset_idx`` of
    each dataset's ``data_cfg``.

    The dataset's own ``dataset_name`` (from its metainfo, e.g.
    ``'coco_wholebody'``) is already in every sample; mmpose's
    ``MultiDatasetEvaluator`` routes predictions by it.

    Args:
        dataset_index (int): Index of the sample's dataset, >= 0.

    Raises:
        ValueError: If ``dataset_index`` is not a non-negative int, or (on
            call) the sample already carries a different index.
    """

    def __init__(self, dataset_index: int) -> None:
        super().__init__()
        if isinstance(dataset_index, bool) or not isinstance(
                dataset_index, int) or dataset_index < 0:
            raise ValueError('dataset_index must be an int >= 0, got '
                             f'{dataset_index!r}')
        self.dataset_index = dataset_index

    def transform(self, results: Dict) -> Dict:
        """Add ``dataset_index`` to ``results`` (modified and returned)."""
        old = results.get('dataset_index')
        if old is not None and old != self.dataset_index:
            raise ValueError(
                f'sample {results.get("img_path", "?")!r} already has '
                f'dataset_index={old}; refusing to overwrite it with '
                f'{self.dataset_index}')
        results['dataset_index'] = self.dataset_index
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}'
                f'(dataset_index={self.dataset_index})')
