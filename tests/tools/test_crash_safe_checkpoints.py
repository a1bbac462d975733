"""Checkpoints survive a kill at any moment (AtomicCheckpointHook, on in
every shipped config), and ``--resume`` finds a complete one."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

from tests.conftest import require_shared
from tests.tools.test_train_test import CONFIG, TINY_RUN, run_tool
from vitpose_mm.checkpoint import checkpoint_problem
from vitpose_mm.checkpoint.safe_globals import safe_globals
from vitpose_mm.tools import train as train_tool

#: Three epochs, a checkpoint each (one kept, as in the ViTPose configs),
#: no validation.
EPOCHS = [
    *TINY_RUN, 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10',
    'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=1'
]

#: A plugin that tears the temporary file of epoch 2 in half and SIGKILLs
#: the process before the rename, as a power cut or OOM kill would.
KILLER = '''
import os
import signal

from vitpose_mm.engine.hooks import atomic_checkpoint_hook as hook

_replace = hook.replace_durably


def replace_durably(src, dst):
    if dst.endswith('epoch_2.pth'):
        with open(src, 'r+b') as f:
            f.truncate(os.path.getsize(src) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    _replace(src, dst)


hook.replace_durably = replace_durably
'''


def killer_plugin(tmp_path, killer: str):
    """A plugin module ``killer`` (source ``killer``) and a config that
    inherits the tiny config and imports it: (plugin folder, config)."""
    plugin = tmp_path / 'plugin'
    plugin.mkdir()
    (plugin / 'killer.py').write_text(killer)
    config = plugin / 'killed.py'
    config.write_text(
        textwrap.dedent(f'''
        _base_ = ['{CONFIG}']
        custom_imports = dict(imports=['vitpose_mm', 'killer'],
                              allow_failed_imports=False)
        '''))
    return plugin, config


def _train(work_dir, config, *extra, check=True):
    data_root = str(require_shared('data/coco')) + '/'
    return run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(config), '--work-dir',
        str(work_dir), *extra, '--cfg-options', f'data_root={data_root}',
        *EPOCHS
    ],
                    check=check)


def test_kill_during_save_keeps_the_previous_checkpoint(tmp_path):
    plugin, config = killer_plugin(tmp_path, KILLER)
    work = tmp_path / 'work'
    result = subprocess.run([
        sys.executable, '-m', 'vitpose_mm.tools.train',
        str(config), '--work-dir',
        str(work), '--cfg-options',
        f"data_root={require_shared('data/coco')}/", *EPOCHS
    ],
                            env=dict(os.environ, PYTHONPATH=str(plugin)),
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == -9, result.stderr[-3000:]
    # epoch 1 is complete and still named by last_checkpoint; epoch 2 only
    # exists as a torn temporary file
    assert checkpoint_problem(str(work / 'epoch_1.pth')) is None
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert not (work / 'epoch_2.pth').exists()
    assert checkpoint_problem(str(work / '.epoch_2.pth.tmp')).startswith(
        'torn')
    # --resume continues from epoch 1 with the optimizer state, and the
    # stale temporary file goes
    log = _train(work, CONFIG, '--resume')
    text = log.stdout + log.stderr
    assert 'resumed epoch: 1' in text
    assert 'Epoch(train) [2][2/2]' in text and 'Epoch(train) [3][2/2]' in text
    assert not (work / '.epoch_2.pth.tmp').exists()
    with torch.serialization.safe_globals(safe_globals()):
        ckpt = torch.load(work / 'epoch_3.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 3
    assert ckpt['optimizer']['state'], 'optimizer state lost'
    # one kept, as max_keep_ckpts=1 says
    assert sorted(p.name for p in work.glob('epoch_*.pth')) == \
        ['epoch_3.pth']


def test_resume_skips_a_torn_last_checkpoint(tmp_path):
    """A work directory left by mmengine's own hook (last_checkpoint naming
    a torn file) resumes from the newest complete checkpoint, with a
    warning; the torn file given explicitly is refused in one line."""
    work = tmp_path / 'work'
    _train(work, CONFIG)
    torn = work / 'epoch_4.pth'
    data = (work / 'epoch_3.pth').read_bytes()
    torn.write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(torn))
    args = train_tool.parse_args([str(CONFIG), '--work-dir', str(work),
                                  '--resume'])
    from mmengine.config import Config
    cfg = train_tool.merge_args(Config.fromfile(CONFIG), args)
    assert cfg.load_from == str(work / 'epoch_3.pth')
    with pytest.raises(SystemExit, match=f'cannot resume from {torn}: torn'):
        train_tool.main([str(CONFIG), '--work-dir', str(work), '--resume',
                         str(torn)])


def test_resume_without_any_checkpoint_starts_afresh(tmp_path):
    args = train_tool.parse_args(
        [str(CONFIG), '--work-dir', str(tmp_path), '--resume'])
    from mmengine.config import Config
    cfg = train_tool.merge_args(Config.fromfile(CONFIG), args)
    assert cfg.resume is True and cfg.load_from is None
    shutil.rmtree(tmp_path)
