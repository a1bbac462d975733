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
next to the previous, complete checkpoint. Non-local storage backends and
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

from ..atomic_files import replace_durably, write_atomically

#: Prefix and suffix of a checkpoint being written.
TMP_PREFIX, TMP_SUFFIX = '.', '.tmp'


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
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
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
        replace_durably(
            osp.join(self.out_dir, tmp_name(filename)), self.last_ckpt)
        write_atomically(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None and outdated != step:
            old = osp.join(self.out_dir, self.filename_tmpl.format(outdated))
            if osp.isfile(old):
                os.remove(old)
