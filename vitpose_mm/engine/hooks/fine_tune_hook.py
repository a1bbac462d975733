"""Fine-tuning a trained ViTPose / ViTPose+ on another keypoint set or a new
dataset: what ``load_from`` may re-initialise, and what trains.

A checkpoint trained on COCO's 17 keypoints does not fit a model with 16
(MPII) or 5 (a user's own set): its head's final 1x1 conv has one output
row per keypoint. Without this hook that load is refused (a half-loaded
model trains from noise without a word). With it, before the Runner loads
``load_from`` (``before_run``, which mmengine calls before
``load_or_resume``):

- the backbone and the head's deconvolutions must fit exactly, as for any
  load; the final layer (:data:`~vitpose_mm.checkpoint.fit.FINAL_LAYERS`,
  or the ``reinit`` patterns given) keeps the model's initialisation, and
  one log line lists what was re-initialised and why;
- ``keypoint_map`` (pairs ``(checkpoint index, model index)``, the style of
  mmpose's ``KeypointConverter``) carries the trained rows of keypoints the
  two sets share over into that final layer, e.g. 5 of COCO's 17, or
  MPII's 12 body joints that COCO also has;
- ViTPose+ (``new_dataset``): a ViTPose+ model whose ``datasets`` list
  appends a dataset to the checkpoint's (the others in the checkpoint's
  order) gets that dataset's head re-initialised and its expert copied
  from ``expert_from`` (a dataset name or index of the checkpoint; random
  when None), and by default trains only those two;
- ``train_only`` (fnmatch patterns of parameter names): every other
  parameter is frozen (``requires_grad=False``; mmengine's optimizers skip
  parameters without gradients, so no weight decay moves them either).

Config::

    fine_tune = dict(keypoint_map=[(5, 0), (6, 1)])   # our train tool
    custom_hooks = [dict(type='FineTuneHook', keypoint_map=[(5, 0), (6, 1)])]
                                                      # any mmengine runner

Walk-through: ``docs/finetune.md``.
"""
from fnmatch import fnmatchcase
from typing import Optional, Sequence, Tuple, Union

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn

from ...checkpoint.fit import FINAL_LAYERS, keypoint_pairs
from ...models.load_hook import set_fine_tune


@HOOKS.register_module()
class FineTuneHook(Hook):
    """Let ``load_from`` start a fine-tuning run (module doc).

    Args:
        reinit (sequence of str, optional): fnmatch patterns of the model's
            tensors that may keep their initialisation where the checkpoint
            lacks them or holds another shape. Default: the heads' final
            layers.
        keypoint_map (sequence of (int, int), optional): ``(checkpoint
            keypoint, model keypoint)`` pairs carried over into the final
            layer; the model's other keypoints start from the initialisation.
        new_dataset (str, optional): A ViTPose+ model's dataset that the
            checkpoint lacks: its head and expert are re-initialised.
        expert_from (str or int, optional): With ``new_dataset``: the
            dataset (name or index, of the model's ``datasets``, which
            begin with the checkpoint's) whose expert the new one copies.
        train_only (sequence of str, optional): fnmatch patterns of the
            parameters that train; all others are frozen. Default: all
            train, or with ``new_dataset`` only its head and expert.

    Raises:
        ValueError: ``keypoint_map`` that is not a list of pairs,
            ``new_dataset`` / ``expert_from`` on a model that is not
            ViTPose+ or naming an unknown dataset, ``train_only`` that
            matches no parameter (each naming the value).
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 reinit: Optional[Sequence[str]] = None,
                 keypoint_map: Optional[Sequence[Tuple[int, int]]] = None,
                 new_dataset: Optional[str] = None,
                 expert_from: Union[str, int, None] = None,
                 train_only: Optional[Sequence[str]] = None) -> None:
        if keypoint_map is not None:
            keypoint_map = keypoint_pairs(keypoint_map,
                                          'fine_tune keypoint_map')
        if expert_from is not None and new_dataset is None:
            raise ValueError('fine_tune expert_from needs new_dataset (the '
                             'ViTPose+ dataset whose expert it seeds)')
        self.reinit = tuple(reinit) if reinit is not None else FINAL_LAYERS
        self.keypoint_map = keypoint_map
        self.new_dataset = new_dataset
        self.expert_from = expert_from
        self.train_only = tuple(train_only) if train_only else None

    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.apply(model)

    def apply(self, model: nn.Module) -> None:
        """Set the fine-tuning load up on ``model`` and freeze what does
        not train (what :meth:`before_run` does; callable without a
        Runner)."""
        reinit, train_only = list(self.reinit), self.train_only
        expert_index = None
        if self.new_dataset is not None:
            position = getattr(model, 'dataset_position', None)
            if position is None:
                raise ValueError(
                    f'fine_tune new_dataset={self.new_dataset!r} needs a '
                    f'ViTPose+ model (ViTPosePlusEstimator), not '
                    f'{type(model).__name__}')
            new = position(self.new_dataset)
            new_name = model.dataset_names[new]
            mine = [f'heads.{new_name}.*',
                    f'backbone.blocks.*.mlp.experts.{new}.*']
            reinit += mine
            if train_only is None:
                train_only = tuple(mine)
            if self.expert_from is not None:
                expert_index = position(self.expert_from)
        set_fine_tune(model, reinit, self.keypoint_map, expert_index)
        if train_only:
            names = [n for n, _ in model.named_parameters()]
            trained = {n for n in names
                       if any(fnmatchcase(n, p) for p in train_only)}
            if not trained:
                raise ValueError(f'fine_tune train_only={list(train_only)} '
                                 'matches no parameter of the model')
            count = total = 0
            for name, param in model.named_parameters():
                param.requires_grad_(name in trained)
                total += param.numel()
                count += param.numel() if name in trained else 0
            print_log(f'vitpose_mm fine-tune: training {count} of {total} '
                      f'parameters ({", ".join(train_only)}); the rest is '
                      'frozen', logger='current')
