"""Crash-safe periodic checkpoints: mmengine's ``CheckpointHook`` with the
order of its file operations made safe against a kill at any moment.

mmengine 0.10.7's ``CheckpointHook._save_checkpoint_with_step`` deletes the
oldest kept checkpoint *before* writing the new one, writes the new file in
place (not atomically) and then points ``last_checkpoint`` at it. With
``max_keep_ckpts=1`` (the ViTPose configs) a kill while ``epoch_10.pth`` is
being written leaves ``epoch_5.pth`` deleted, ``epoch_10.pth`` torn and
``last_checkpoint`` naming one of them: nothing to resume from.

:class:`AtomicCheckpointHook` (on by default through
``configs/_base_/default_runtime.py``) keeps the same options and file
names, in this order:

1. the checkpoint is written to ``.<name>.tmp`` in the same folder,
   flushed to disk (``fsync``) and renamed to ``<name>`` (``os.replace``,
   atomic on POSIX and Windows);
2. ``last_checkpoint`` is written the same way, so it only ever names a
   complete file;
3. only then is the checkpoint that falls out of ``max_keep_ckpts``
   deleted.

A kill leaves at worst a stale ``.tmp`` file (removed at the next start)
next to the previous, complete checkpoint. A write that fails (a full
disk) removes its ``.tmp`` file and ends the run with
:class:`~vitpose_mm.engine.atomic_files.WriteError` (one line naming the
checkpoint and the reason); the previous checkpoint and
``last_checkpoint`` are untouched.

Validation cut off by a kill is not lost: a checkpoint written before a
validation records ``val_pending=True`` in its meta, and each finished
validation writes its epoch (iteration) to ``last_validated`` in the
checkpoint folder. A run resumed from a checkpoint whose validation never
finished validates it first (mmengine would start the next epoch, and with
``max_keep_ckpts=1`` delete that checkpoint unvalidated at the next save);
a checkpoint whose validation has not run is never deleted. Non-local storage backends and
non-main ranks use mmengine's behaviour unchanged. The best checkpoint
(``save_best``) is written by mmengine as before.
"""
import glob
import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from ..atomic_files import (WriteError, _os_error, _reason, replace_durably,
                            write_atomically)

#: Prefix and suffix of a checkpoint being written.
TMP_PREFIX, TMP_SUFFIX = '.', '.tmp'
#: File in the checkpoint folder holding the last validated epoch / iter.
LAST_VALIDATED = 'last_validated'


def tmp_name(filename: str) -> str:
    """The name ``filename`` is written under before its rename."""
    return f'{TMP_PREFIX}{filename}{TMP_SUFFIX}'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), writing periodic
    checkpoints atomically and deleting old ones only after the new one
    and ``last_checkpoint`` are complete (see the module docstring)."""

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._atomic() and is_main_process():
            # leftovers of a run killed while saving
            pattern = osp.join(self.out_dir, tmp_name('*'))
            for stale in glob.glob(pattern):
                os.remove(stale)
        step = getattr(self, '_resumed_pending', None)
        self._resumed_pending = None
        if (step is not None and self._atomic() and step > self._validated()
                and getattr(runner, '_val_loop', None) is not None):
            runner.logger.info(
                f'The validation of {"epoch" if self.by_epoch else "iter"} '
                f'{step} did not finish before the run stopped: validating '
                'it before training on')
            runner.val_loop.run()

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        super().after_load_checkpoint(runner, checkpoint)
        meta = checkpoint.get('meta') or {}
        if getattr(runner, '_resume', False) and meta.get('val_pending'):
            self._resumed_pending = int(
                meta['epoch'] if self.by_epoch else meta['iter'])

    def after_val_epoch(self, runner, metrics) -> None:
        super().after_val_epoch(runner, metrics)
        if self._atomic() and is_main_process() and \
                getattr(self, 'out_dir', None):
            step = runner.epoch if self.by_epoch else runner.iter
            write_atomically(osp.join(self.out_dir, LAST_VALIDATED),
                             str(step))

    def _validated(self) -> int:
        """The last validated step recorded in the checkpoint folder."""
        try:
            with open(osp.join(self.out_dir, LAST_VALIDATED)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 0

    @staticmethod
    def _validates_after(runner, step: int, by_epoch: bool) -> bool:
        """Whether the train loop validates right after ``step`` (as
        mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop``)."""
        loop = runner.train_loop
        if getattr(runner, '_val_loop', None) is None or \
                not hasattr(loop, 'val_interval'):
            return False
        last = loop.max_epochs if by_epoch else loop.max_iters
        return step >= loop.val_begin and (step % loop.val_interval == 0
                                           or step == last)

    def _atomic(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated: Optional[int] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        previous = (getattr(self, 'last_ckpt', None)
                    or runner.message_hub.get_info('last_ckpt'))
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        meta = dict(meta, val_pending=self._validates_after(
            runner, step, self.by_epoch))
        tmp = osp.join(self.out_dir, tmp_name(filename))
        try:
            runner.save_checkpoint(
                self.out_dir,
                tmp_name(filename),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if not is_main_process():
                return
            replace_durably(tmp, self.last_ckpt)
        except BaseException as err:
            if osp.exists(tmp):
                os.remove(tmp)
            target, self.last_ckpt = self.last_ckpt, previous
            runner.message_hub.update_info('last_ckpt', previous)
            cause = _os_error(err)
            if cause is None:
                raise
            kept = (f'{previous} and last_checkpoint are unchanged'
                    if previous and osp.isfile(previous) else
                    'no checkpoint was written')
            raise WriteError(f'cannot write checkpoint {target}: '
                             f'{_reason(cause)}; {kept}') from None
        write_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None and outdated != step:
            old = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if outdated > self._validated() and self._validates_after(
                    runner, outdated, self.by_epoch):
                runner.logger.warning(
                    f'Keeping {old}: its validation has not run')
            elif osp.isfile(old):
                os.remove(old)
