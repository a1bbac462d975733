"""``mim train vitpose_mm CONFIG`` on an installed copy of the package.

mim finds a package's ``train.py`` and configs under
``<installed path>/.mim/{tools,configs}``. The editable install of
scripts/setup_env.sh has no such path (its files stay in the checkout), so
the test installs the package from a copy of the sources into a temporary
folder, as ``pip install .`` would, and puts it first on PYTHONPATH.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require_shared
from tests.tools.test_train_test import CONFIG, TINY_RUN

MIM = Path(sys.executable).with_name('mim')
PROJECT_FILES = ('pyproject.toml', 'README.md', 'setup.cfg', 'LICENSE')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """vitpose_mm installed (not editable) into a temporary folder."""
    src = tmp_path_factory.mktemp('src')
    for name in PROJECT_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for name in ('vitpose_mm', 'configs'):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=ignore)
    target = tmp_path_factory.mktemp('site')
    subprocess.run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
        '--no-build-isolation', '--no-compile', '--target',
        str(target),
        str(src)
    ],
                   check=True,
                   capture_output=True,
                   text=True,
                   timeout=600)
    return target


def test_installed_package_ships_configs_and_tools(installed):
    mim = installed / 'vitpose_mm' / '.mim'
    rel = CONFIG.relative_to(REPO / 'configs')
    assert (mim / 'configs' / rel).is_file()
    assert (mim / 'configs' / '_base_' / 'vitpose_coco-256x192.py').is_file()
    for tool in ('train.py', 'test.py', 'data_root.py'):
        assert (mim / 'tools' / tool).is_file()


def test_mim_train_finds_config_and_runs(installed, tmp_path):
    if not MIM.is_file():
        pytest.skip(f'mim is not installed next to {sys.executable}')
    data_root = str(require_shared('data/coco')) + '/'
    env = dict(os.environ, PYTHONPATH=str(installed), PYTHONUNBUFFERED='1')
    result = subprocess.run([
        str(MIM), 'train', 'vitpose_mm', CONFIG.name, '--gpus', '0',
        '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', f'data_root={data_root}',
        *TINY_RUN, 'train_dataloader.batch_size=14', 'train_cfg.val_interval=2'
    ],
                            cwd=tmp_path,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    # the config was found by name inside the installed package
    found = installed / 'vitpose_mm' / '.mim' / 'configs'
    assert f'will use {found}' in log
    assert f"{installed / 'vitpose_mm' / '.mim' / 'tools' / 'train.py'}" in log
    assert 'Epoch(train) [1][1/1]' in log
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
