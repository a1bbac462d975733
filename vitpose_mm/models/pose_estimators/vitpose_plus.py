"""The ViTPose+ top-down estimator: MoE backbone, one head per dataset.

ViTPose++ (TPAMI'23, Sec. 3.4); port of ``TopDownMoE`` in the original
``mmpose/models/detectors/top_down_moe.py``. Each sample's
``dataset_index`` (an int in its data sample's metainfo, stamped by
:class:`~vitpose_mm.datasets.ViTPoseSetDatasetIndex` and kept by
``PackPoseInputs(meta_keys=... + ('dataset_index',))``) picks

- the expert of every FFN: the (B,) index goes to
  :class:`~vitpose_mm.models.ViTPosePlusBackbone`;
- the head that gets the sample's features, for the loss and the
  prediction (flip test with that dataset's ``flip_indices``, decoding with
  that head's codec).

Head ``i`` is ``heads.<datasets[i].name>``; the state-dict keys are
``heads.<name>.*`` (e.g. ``heads.coco.final_layer.weight``). In the
released checkpoints the original ``keypoint_head.*`` is ``heads.<name of
dataset 0>.*`` and ``associate_keypoint_heads.N.*`` is ``heads.<name of
dataset N + 1>.*``.

Differences from the original, on purpose:

- Nothing is padded: each head sees only its own samples, with their own
  keypoint count. The original pads all targets to 133 keypoints to batch
  them and never slices them back, so heads of 14-17 keypoints are trained
  against targets of the wrong size.
- The loss of head ``d`` is its mean loss over its ``n_d`` samples times
  ``n_d / B``. The sum over heads is then the batch mean of the per-sample
  losses, which is what the original computes by masking the targets of
  the other datasets over the whole batch (every head runs on every sample
  there).
- Heads without samples in a training batch add an exact zero to the loss,
  so DDP sees no unused parameters (the backbone's experts do the same).
- At inference the original needs ``dataset_idx`` in every sample; here a
  dataset can be chosen by name: ``test_cfg=dict(dataset='coco')`` in the
  config or :meth:`ViTPosePlusEstimator.set_dataset`, and a sample's own
  ``dataset_index`` still wins.
"""
from copy import deepcopy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import DATASETS, MODELS
from mmpose.utils.typing import (ConfigType, ForwardResults, OptConfigType,
                                 OptMultiConfig, OptSampleList, SampleList)
from torch import Tensor, nn

from vitpose_mm.checkpoint.experts import resolve_dataset

_ENTRY_KEYS = {'name', 'dataset_type', 'metainfo', 'head'}


def _metainfo(entry: dict, where: str) -> dict:
    """Parsed metainfo of a ``datasets`` entry (see the class doc)."""
    if ('dataset_type' in entry) == ('metainfo' in entry):
        raise ValueError(f"{where} ({entry['name']!r}) needs exactly one of "
                         "'dataset_type' and 'metainfo'")
    if 'metainfo' in entry:
        return parse_pose_metainfo(deepcopy(dict(entry['metainfo'])))
    dataset_cls = DATASETS.get(entry['dataset_type'])
    if dataset_cls is None:
        raise ValueError(f"{where}.dataset_type {entry['dataset_type']!r} "
                         'is not a registered dataset')
    return parse_pose_metainfo(deepcopy(dataset_cls.METAINFO))


@MODELS.register_module()
class ViTPosePlusEstimator(TopdownPoseEstimator):
    """Top-down estimator with a ViTPose+ backbone and per-dataset heads.

    Args:
        backbone (dict): A backbone taking ``(x, dataset_index)`` with one
            expert per dataset, e.g. ``ViTPosePlusBackbone``; its
            ``num_expert`` must equal ``len(datasets)``.
        head (dict): The head config all datasets share, e.g. the ViTPose
            ``HeatmapHead``; a dataset's ``head`` entry overrides its keys
            (shallow ``dict.update``).
        datasets (list[dict]): One entry per expert, in expert order:

            - ``name`` (str): The dataset's name for users and state-dict
              keys, e.g. ``'coco'``, ``'wholebody'``.
            - ``dataset_type`` (str) or ``metainfo`` (dict), exactly one:
              the registered dataset class whose ``METAINFO`` to use (as
              mmpose's ``MultiDatasetEvaluator`` does), or a metainfo dict
              as mmpose's ``metainfo`` argument (``dict(from_file=...)``).
              It gives the keypoint count, the ``flip_indices`` of the flip
              test and the ``dataset_meta`` for visualisation.
            - ``head`` (dict, optional): Overrides of ``head``; the merged
              ``out_channels`` must equal the keypoint count.
        neck (dict, optional): A neck config.
        train_cfg (dict, optional): Passed to each head's ``loss``.
        test_cfg (dict, optional): Passed to each head's ``predict``
            (``flip_test``, ``flip_mode``, ``shift_heatmap``, ...), plus
            ``dataset`` (str): the name of the dataset whose expert and
            head serve samples without ``dataset_index``.
        data_preprocessor (dict, optional): As for mmpose's estimators.
        init_cfg (dict, optional): As for mmpose's estimators.

    Raises:
        ValueError: On an empty or malformed ``datasets`` list, a duplicate
            or unusable name, a head whose ``out_channels`` differs from its
            dataset's keypoint count, a backbone whose ``num_expert``
            differs from the number of datasets, or an unknown
            ``test_cfg['dataset']``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 head: ConfigType,
                 datasets: Sequence[dict],
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        entries = self._parse_datasets(datasets, head)
        # mmpose's BasePoseEstimator insists on building ``self.head``: let
        # it build the first dataset's head, which then moves to ``heads``.
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=entries[0][2],
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        heads = {entries[0][0]: self.head}
        del self.head
        heads.update(
            (name, MODELS.build(cfg)) for name, _, cfg in entries[1:])
        for module in heads.values():
            module.test_cfg = dict(self.test_cfg)
        self.heads = nn.ModuleDict(heads)
        self.dataset_names: List[str] = [name for name, _, _ in entries]
        self.dataset_metas: Dict[str, dict] = {
            name: meta for name, meta, _ in entries}
        self._assigned_dataset_meta = None

        num_expert = getattr(self.backbone, 'num_expert', None)
        if num_expert != len(self.dataset_names):
            raise ValueError(
                f'The backbone has num_expert={num_expert} but '
                f'{len(self.dataset_names)} datasets are given '
                f'({self.dataset_names}); ViTPose+ needs one expert per '
                'dataset')
        if self.test_cfg.get('dataset') is not None:
            self.set_dataset(self.test_cfg['dataset'])

    @staticmethod
    def _parse_datasets(datasets: Sequence[dict],
                        head: ConfigType) -> List[Tuple[str, dict, dict]]:
        """Validate ``datasets`` -> [(name, metainfo, head cfg)]."""
        if not datasets:
            raise ValueError('datasets must list at least one dataset, got '
                             f'{datasets!r}')
        entries = []
        for position, entry in enumerate(datasets):
            where = f'datasets[{position}]'
            if not isinstance(entry, dict):
                raise ValueError(f'{where} must be a dict, got {entry!r}')
            unknown = set(entry) - _ENTRY_KEYS
            if unknown:
                raise ValueError(f'{where} has unknown keys '
                                 f'{sorted(unknown)}; allowed: '
                                 f'{sorted(_ENTRY_KEYS)}')
            name = entry.get('name')
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f'{where}.name must be an identifier such '
                                 f"as 'coco', got {name!r}")
            if any(name == other for other, _, _ in entries):
                raise ValueError(f'{where}.name {name!r} is used twice')
            meta = _metainfo(entry, where)
            head_cfg = dict(deepcopy(head))
            head_cfg.update(deepcopy(entry.get('head') or {}))
            if head_cfg.get('out_channels') != meta['num_keypoints']:
                raise ValueError(
                    f"The head of {where} ({name!r}) has out_channels="
                    f"{head_cfg.get('out_channels')} but its metainfo "
                    f"({meta['dataset_name']!r}) has {meta['num_keypoints']}"
                    " keypoints; set datasets[...]['head']['out_channels']")
            entries.append((name, meta, head_cfg))
        return entries

    # ------------------------------------------------------ dataset choice
    @property
    def with_head(self) -> bool:
        """Always True: every dataset has a head."""
        return True

    @property
    def selected_dataset(self) -> Optional[str]:
        """Dataset that serves samples without ``dataset_index``: the name
        in ``test_cfg['dataset']``, the only dataset if there is one, else
        None."""
        name = self.test_cfg.get('dataset')
        if name is None and len(self.dataset_names) == 1:
            name = self.dataset_names[0]
        return name

    def set_dataset(self, name: Optional[str]) -> 'ViTPosePlusEstimator':
        """Choose the expert and head for samples without ``dataset_index``.

        Same as ``test_cfg=dict(dataset=name)`` in the config; it also
        makes :attr:`dataset_meta` (what mmpose's inference API and
        visualiser read) that dataset's metainfo.

        Args:
            name (str, optional): One of :attr:`dataset_names` (or its
                index); None clears the choice.

        Returns:
            ViTPosePlusEstimator: ``self``.

        Raises:
            ValueError: As :meth:`dataset_position`.
        """
        if name is not None:
            name = self.dataset_names[self.dataset_position(name)]
        self.test_cfg['dataset'] = name
        return self

    def dataset_position(self, dataset: Union[str, int]) -> int:
        """The expert index of ``dataset``, one of :attr:`dataset_names`
        or an index (:func:`~vitpose_mm.checkpoint.experts.resolve_dataset`).

        Raises:
            ValueError: If the name is unknown or the index out of range.
        """
        return resolve_dataset(dataset, self.dataset_names,
                               holder='this model')

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Metainfo of :attr:`selected_dataset` if any, else whatever was
        assigned (mmpose's ``init_model`` assigns the checkpoint's)."""
        name = self.selected_dataset
        if name is not None:
            return self.dataset_metas[name]
        return self._assigned_dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, value: Optional[dict]) -> None:
        self._assigned_dataset_meta = value

    def batch_dataset_index(self, data_samples: OptSampleList,
                            batch_size: int, for_inference: bool) -> Tensor:
        """The (B,) long dataset index of a batch, on the CPU.

        Read from each sample's metainfo ``dataset_index``; samples without
        one use :attr:`selected_dataset` when ``for_inference``.

        Raises:
            ValueError: If some samples have an index and others do not,
                if an index is out of range, or if no sample has one and
                no dataset is selected (or this is for the loss) while the
                model has several datasets.
        """
        given = [None] * batch_size if data_samples is None else [
            sample.metainfo.get('dataset_index') for sample in data_samples]
        missing = [i for i, value in enumerate(given) if value is None]
        if not missing:
            index = torch.as_tensor(given, dtype=torch.long).reshape(-1)
            bad = index[(index < 0) | (index >= len(self.dataset_names))]
            if bad.numel():
                raise ValueError(
                    f'dataset_index {bad.tolist()} out of range for the '
                    f'{len(self.dataset_names)} datasets '
                    f'{self.dataset_names}')
            return index
        if len(missing) < batch_size:
            raise ValueError(
                f'Samples {missing} of the batch have no dataset_index '
                'while the others have one')
        name = self.selected_dataset if (
            for_inference or len(self.dataset_names) == 1) else None
        if name is None:
            hint = (', or choose one for inference with '
                    "test_cfg=dict(dataset=NAME) or set_dataset(NAME)"
                    if for_inference else '')
            raise ValueError(
                f'This ViTPose+ model has {len(self.dataset_names)} datasets '
                f'{self.dataset_names} and needs a dataset_index in each data '
                "sample's metainfo (ViTPoseSetDatasetIndex in the dataset's "
                "pipeline and 'dataset_index' in PackPoseInputs' meta_keys)"
                f'{hint}; got none')
        return torch.full((batch_size, ), self.dataset_position(name),
                          dtype=torch.long)

    # ------------------------------------------------------------- routing
    def extract_feat(self,
                     inputs: Tensor,
                     dataset_index: Optional[Tensor] = None
                     ) -> Tuple[Tensor]:
        """(B, 3, H, W) images, (B,) index -> the backbone (+ neck)
        features, each (B, C, h, w)."""
        feats = self.backbone(inputs, dataset_index)
        if self.with_neck:
            feats = self.neck(feats)
        return feats

    @staticmethod
    def _groups(index: Tensor) -> List[Tuple[int, Tensor]]:
        """[(dataset, (n_d,) rows of the batch)] for datasets present."""
        return [(d, (index == d).nonzero(as_tuple=True)[0])
                for d in index.unique().tolist()]

    @staticmethod
    def _take(feats: Sequence[Tensor], rows: Tensor,
              batch_size: int) -> Tuple[Tensor]:
        """The features of ``rows`` (all of them without a copy)."""
        if rows.numel() == batch_size:
            return tuple(feats)
        return tuple(feat[rows] for feat in feats)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Per-dataset losses of a batch, each on its own samples.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            data_samples (list[PoseDataSample]): With ``dataset_index`` in
                the metainfo and each dataset's own targets (K_d keypoints).

        Returns:
            dict: For each dataset ``name`` in the batch, its head's losses
            as ``<key>_<name>`` (e.g. ``loss_kpt_coco``, ``acc_pose_coco``);
            loss terms are scaled by ``n_d / B`` (see the module doc).

        Raises:
            ValueError: If a sample has no ``dataset_index`` (with more than
                one dataset) or an out-of-range one.
        """
        batch_size = inputs.shape[0]
        index = self.batch_dataset_index(data_samples, batch_size, False)
        feats = self.extract_feat(inputs, index.to(inputs.device))
        losses = dict()
        present = set()
        for d, rows in self._groups(index):
            name = self.dataset_names[d]
            present.add(name)
            head_losses = self.heads[name].loss(
                self._take(feats, rows.to(inputs.device), batch_size),
                [data_samples[i] for i in rows.tolist()],
                train_cfg=self.train_cfg)
            share = rows.numel() / batch_size
            for key, value in head_losses.items():
                losses[f'{key}_{name}'] = (
                    value * share if 'loss' in key else value)
        unused = [n for n in self.dataset_names if n not in present]
        if self.training and unused:
            # Exact zero that puts the idle heads in the autograd graph.
            zero = sum(param.sum() for name in unused
                       for param in self.heads[name].parameters()) * 0.
            key = next(key for key in losses if 'loss' in key)
            losses[key] = losses[key] + zero
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predict with each sample's expert and head.

        Args:
            inputs (Tensor): (B, 3, H, W) images.
            data_samples (list[PoseDataSample]): Their metainfo as mmpose's
                top-down estimators need (``input_center``, ...), and
                ``dataset_index`` or a selected dataset (:meth:`set_dataset`).

        Returns:
            list[PoseDataSample]: ``data_samples`` with ``pred_instances``
            (keypoints (1, K_d, 2) in image pixels, keypoint_scores
            (1, K_d)) and, with ``test_cfg['output_heatmaps']``,
            ``pred_fields.heatmaps`` (K_d, h, w).

        Raises:
            ValueError: See :meth:`batch_dataset_index`.
        """
        batch_size = inputs.shape[0]
        index = self.batch_dataset_index(data_samples, batch_size, True)
        device_index = index.to(inputs.device)
        flip = self.test_cfg.get('flip_test', False)
        feats = self.extract_feat(inputs, device_index)
        if flip:
            feats_flip = self.extract_feat(inputs.flip(-1), device_index)
        instances = [None] * batch_size
        fields = [None] * batch_size
        for d, rows in self._groups(index):
            name = self.dataset_names[d]
            positions = rows.tolist()
            samples = [data_samples[i] for i in positions]
            rows = rows.to(inputs.device)
            sub = self._take(feats, rows, batch_size)
            if flip:
                # The flip pairs of the head's dataset, whatever the sample
                # says (mmpose's head reads them from the first sample).
                flip_indices = self.dataset_metas[name]['flip_indices']
                for sample in samples:
                    sample.set_metainfo(dict(flip_indices=flip_indices))
                sub = [sub, self._take(feats_flip, rows, batch_size)]
            preds = self.heads[name].predict(
                sub, samples, test_cfg=self.test_cfg)
            if isinstance(preds, tuple):
                preds, pred_fields = preds
            else:
                pred_fields = [None] * len(positions)
            for i, pred, field in zip(positions, preds, pred_fields):
                instances[i] = pred
                fields[i] = field
        return self.add_pred_to_datasample(
            instances, fields if fields[0] is not None else None,
            data_samples)

    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList,
                mode: str = 'tensor') -> ForwardResults:
        """mmpose's ``forward``, but ``'tensor'`` mode also gets the data
        samples, whose ``dataset_index`` it follows."""
        if mode == 'tensor':
            if isinstance(inputs, list):
                inputs = torch.stack(inputs)
            return self._forward(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    def _forward(self,
                 inputs: Tensor,
                 data_samples: OptSampleList = None
                 ) -> Union[Tensor, Tuple[Tensor]]:
        """(B, 3, H, W) -> the selected head's (B, K, h, w) heatmaps.

        Raises:
            ValueError: If the batch spans several datasets (their heatmaps
                have different K) or no dataset is known (see
                :meth:`batch_dataset_index`).
        """
        index = self.batch_dataset_index(data_samples, inputs.shape[0], True)
        datasets = index.unique().tolist()
        if len(datasets) != 1:
            raise ValueError(
                'Tensor mode needs one dataset per batch, got datasets '
                f'{[self.dataset_names[d] for d in datasets]}')
        feats = self.extract_feat(inputs, index.to(inputs.device))
        return self.heads[self.dataset_names[datasets[0]]].forward(feats)
