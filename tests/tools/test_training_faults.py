"""Training faults a user meets (issue 20), each run as a user runs it:
a run killed during validation, resumed, validates that epoch first and
keeps its checkpoint until then (before: the epoch was never validated and
its checkpoint deleted at the next save); ``--resume`` with a config of
another model size is one line (before: a 14-frame traceback); a full
disk while saving a checkpoint is one line with the previous checkpoint
intact and no ``.tmp`` left (before: a raw ``OSError`` and a ``.tmp``)."""
import os
import resource
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.conftest import REPO, require_shared
from tests.tools.test_crash_safe_checkpoints import killer_plugin
from tests.tools.test_train_test import CONFIG, TINY_RUN
from vitpose_mm.checkpoint import checkpoint_problem
from vitpose_mm.checkpoint.safe_globals import safe_globals

#: Two epochs, a checkpoint each (one kept), validation after each.
EPOCHS = [
    *TINY_RUN, 'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=1'
]

#: A plugin that SIGKILLs the run in the first validation iteration of
#: epoch 1 when KILL_DURING_VAL is set, as an OOM kill would.
KILLER = '''
import os
import signal

from mmengine.runner import loops

_run_iter = loops.ValLoop.run_iter


def run_iter(self, idx, data_batch):
    if os.environ.get('KILL_DURING_VAL') and self.runner.epoch == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return _run_iter(self, idx, data_batch)


loops.ValLoop.run_iter = run_iter
'''


def _train(work, config, *extra, env=None, limit=None, options=EPOCHS):
    """Run the train tool; ``limit``: a file size limit in bytes
    (RLIMIT_FSIZE) under which a larger write fails as on a full disk."""

    def preexec():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([
        sys.executable, '-m', 'vitpose_mm.tools.train',
        str(config), '--work-dir',
        str(work), *extra, '--cfg-options',
        f"data_root={require_shared('data/coco')}/", *options
    ],
                          cwd=REPO,
                          env=dict(os.environ, **(env or {})),
                          capture_output=True,
                          text=True,
                          timeout=600,
                          preexec_fn=preexec)


def _one_line(result, start):
    assert result.returncode == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(start), result.stderr[-3000:]
    return last


def test_killed_validation_resumes_refuses_and_survives_a_full_disk(
        tmp_path):
    plugin, config = killer_plugin(tmp_path, KILLER)
    path = os.pathsep.join([str(plugin), os.environ.get('PYTHONPATH', '')])
    work = tmp_path / 'work'
    killed = _train(work, config, env=dict(KILL_DURING_VAL='1',
                                           PYTHONPATH=path))
    assert killed.returncode == -9, killed.stderr[-3000:]
    ckpt = work / 'epoch_1.pth'
    assert checkpoint_problem(str(ckpt)) is None
    with torch.serialization.safe_globals(safe_globals()):
        assert torch.load(ckpt, weights_only=True)['meta']['val_pending']
    before = ckpt.read_bytes()

    # another model size: one line naming the key and both shapes
    wider = [o for o in EPOCHS if not o.startswith((
        'model.backbone.embed_dim', 'model.head.in_channels'))]
    wider += ['model.backbone.embed_dim=64', 'model.head.in_channels=64']
    line = _one_line(_train(work, CONFIG, '--resume', options=wider),
                     f'vitpose_mm: cannot resume from {ckpt}: ')
    assert '(1, 49, 32) in the checkpoint but (1, 49, 64) in the model' in \
        line, line

    # resumed on a "full disk": epoch 1 is validated first, epoch 2's
    # checkpoint cannot be written; one line, epoch 1 intact, no .tmp
    full = _train(work, config, '--resume', env=dict(PYTHONPATH=path),
                  limit=len(before) // 2)
    line = _one_line(full, 'vitpose_mm: cannot write checkpoint '
                     f'{work}/epoch_2.pth: File too large; {ckpt} and '
                     'last_checkpoint are unchanged')
    log = full.stdout + full.stderr
    assert 'The validation of epoch 1 did not finish' in log
    assert 'Epoch(val) [1]' in log and 'coco/AP: ' in log
    assert 'Epoch(train) [2][2/2]' in log
    assert ckpt.read_bytes() == before
    assert (work / 'last_checkpoint').read_text() == str(ckpt)
    assert (work / 'last_validated').read_text() == '1'
    # the resumed validation of epoch 1 also saved its best checkpoint
    assert sorted(p.name for p in work.glob('*.pth*')) == [
        'best_coco_AP_epoch_1.pth', 'epoch_1.pth'
    ]
    assert checkpoint_problem(str(work / 'best_coco_AP_epoch_1.pth')) is None
    assert not list(work.glob('.*.tmp'))


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_device_flag_is_not_taken_by_train_and_test(tool, capsys):
    """The train and test tools leave the device to mmengine (README,
    Failure behaviour): ``--device meta`` is refused by argparse, exit
    status 2, before anything is read."""
    import importlib
    module = importlib.import_module(f'vitpose_mm.tools.{tool}')
    argv = ['cfg.py'] + (['w.pth'] if tool == 'test' else [])
    with pytest.raises(SystemExit) as exc:
        module.parse_args(argv + ['--device', 'meta'])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        'error: unrecognized arguments: --device meta')
