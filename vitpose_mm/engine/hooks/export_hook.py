"""Weights-only export of a distillation stage's result."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS


@HOOKS.register_module()
class ViTPoseExportHook(Hook):
    """After training, write ``model.export_state_dict()`` to
    ``work_dir/filename`` as a weights-only file.

    mmengine's checkpoints also pickle the message hub and the optimizer,
    which :func:`vitpose_mm.checkpoint.load_state_dict_file` refuses to
    unpickle; this file holds tensors only. With
    :class:`~vitpose_mm.models.distillers.ViTPoseKnowledgeTokenLearner` it
    is the learned ``knowledge_token`` (1, K, C) that stage 2 reads; with
    :class:`~vitpose_mm.models.distillers.ViTPoseDistiller` the student's
    weights in the plain ``TopdownPoseEstimator`` layout, loadable without
    the teacher. The weights are those at the end of training (not the
    best checkpoint).

    Args:
        filename (str): File name inside the work directory (``.pth``, or
            ``.safetensors`` for a flat safetensors file).

    Raises:
        TypeError: Before the run, if the model has no
            ``export_state_dict`` method.
    """

    priority = 'LOW'

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.path: Optional[str] = None

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_run(self, runner) -> None:
        model = self._model(runner)
        if not callable(getattr(model, 'export_state_dict', None)):
            raise TypeError(
                f'ViTPoseExportHook needs a model with export_state_dict(); '
                f'{type(model).__name__} has none')

    def after_train(self, runner) -> None:
        from vitpose_mm.checkpoint import save_state_dict_file
        model = self._model(runner)
        self.path = osp.join(runner.work_dir, self.filename)
        if is_main_process():
            meta = dict(model=type(model).__name__, epoch=runner.epoch,
                        iter=runner.iter, **model.export_meta())
            save_state_dict_file(model.export_state_dict(), self.path, meta)
        runner.logger.info(f'Exported the trained weights to {self.path}')
