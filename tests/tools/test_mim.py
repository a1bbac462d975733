"""The package as installed by pip (not editable): ``mim train vitpose_mm
CONFIG``, ``mim list`` / ``mim search``, ``_base_ = ['vitpose_mm::...']``,
console scripts and declared dependencies.

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
PROJECT_FILES = ('pyproject.toml', 'README.md', 'setup.cfg', 'setup.py',
                 'MANIFEST.in', 'model-index.yml')
CONSOLE_SCRIPTS = ('train', 'test', 'demo', 'convert', 'export')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """vitpose_mm installed (not editable) into a temporary folder."""
    src = tmp_path_factory.mktemp('src')
    for name in PROJECT_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for name in ('vitpose_mm', 'configs', 'requirements'):
        shutil.copytree(REPO / name, src / name, symlinks=True, ignore=ignore)
    target = tmp_path_factory.mktemp('site')
    # --target puts console scripts under target/bin
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


def _env(installed):
    return dict(os.environ, PYTHONPATH=str(installed), PYTHONUNBUFFERED='1')


def _run(args, installed, cwd, timeout=300):
    return subprocess.run(args,
                          cwd=cwd,
                          env=_env(installed),
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def test_installed_files_are_real_files_not_links(installed):
    mim = installed / 'vitpose_mm' / '.mim'
    for path in (mim, mim / 'configs', mim / 'tools',
                 mim / 'model-index.yml'):
        assert not path.is_symlink(), path
    assert (mim / 'model-index.yml').is_file()
    metafiles = list((mim / 'configs').rglob('*.yml'))
    assert len(metafiles) >= 4, metafiles


def test_every_config_is_in_a_metafile():
    from modelindex.load_model_index import load
    index = load(str(REPO / 'model-index.yml'))
    listed = {Path(model.config).resolve() for model in index.models}
    missing = [
        str(cfg.relative_to(REPO))
        for cfg in sorted((REPO / 'configs').rglob('vitpose-mm_*.py'))
        if cfg.resolve() not in listed
    ]
    assert not missing, f'configs without a metafile entry: {missing}'
    absent = [str(path) for path in listed if not path.is_file()]
    assert not absent, f'metafile entries without a config: {absent}'


def test_mim_list_and_search_know_the_configs(installed, tmp_path):
    if not MIM.is_file():
        pytest.skip(f'mim is not installed next to {sys.executable}')
    listed = _run([str(MIM), 'list'], installed, tmp_path)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert 'vitpose-mm' in listed.stdout.replace('_', '-'), listed.stdout
    # (mim lower-cases a --config query, so mixed-case names are searched by
    # model; mmpose's own td-hm_ViTPose-* names share this.)
    found = _run([
        str(MIM), 'search', 'vitpose_mm', '--model', 'vitpose', '--field',
        'config'
    ], installed, tmp_path)
    assert found.returncode == 0, found.stderr[-2000:]
    assert CONFIG.stem in found.stdout, found.stdout
    plus = _run([str(MIM), 'search', 'vitpose_mm', '--model', 'vitpose+'],
                installed, tmp_path)
    assert plus.returncode == 0, plus.stderr[-2000:]
    assert 'ViTPose-plus-base_8xb128' in plus.stdout, plus.stdout


def test_user_config_inherits_a_package_config(installed, tmp_path):
    user = tmp_path / 'my_config.py'
    user.write_text(
        f"_base_ = ['vitpose_mm::{CONFIG.relative_to(REPO / 'configs')}']\n"
        'train_dataloader = dict(batch_size=3)\n')
    # mmengine resolves `vitpose_mm::` once vitpose_mm is imported (as our
    # tools and `mim train vitpose_mm` do), from the installed .mim/configs.
    code = ('import vitpose_mm; from mmengine.config import Config; '
            'import sys; cfg = Config.fromfile(sys.argv[1]); '
            'print(cfg.model.backbone.type, cfg.train_dataloader.batch_size, '
            'cfg.custom_imports.imports)')
    result = _run([sys.executable, '-c', code, str(user)], installed,
                  tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[:2] == ['ViTPoseBackbone', '3'], \
        result.stdout
    assert 'vitpose_mm' in result.stdout


def test_console_scripts_are_declared_and_run(installed, tmp_path):
    for tool in CONSOLE_SCRIPTS:
        script = installed / 'bin' / f'vitpose-mm-{tool}'
        assert script.is_file(), script
        result = _run([sys.executable, str(script), '--help'], installed,
                      tmp_path)
        assert result.returncode == 0, (tool, result.stderr[-2000:])
        assert 'usage:' in result.stdout, (tool, result.stdout)


def test_declared_dependencies_admit_the_tested_stack(installed):
    from importlib.metadata import PathDistribution, version
    from packaging.requirements import Requirement
    info = next(installed.glob('vitpose_mm-*.dist-info'))
    dist = PathDistribution(info)
    requires = [Requirement(text) for text in dist.requires or []]
    by_extra = {}
    for req in requires:
        extra = 'mim' if req.marker and 'mim' in str(req.marker) else None
        by_extra.setdefault(extra, []).append(req)
    core = {req.name for req in by_extra.get(None, [])}
    assert {'torch', 'mmengine', 'opencv-python', 'numpy'} <= core, core
    assert {req.name for req in by_extra.get('mim', [])} == \
        {'mmcv', 'mmdet', 'mmpose'}
    for req in by_extra[None] + by_extra['mim']:
        installed_version = version(req.name)
        assert req.specifier.contains(installed_version,
                                      prereleases=True), \
            f'{req} does not admit the installed {installed_version}'
    homepage = dist.metadata.get_all('Project-URL') or []
    assert any('ViTAE-Transformer/ViTPose' in url for url in homepage)


def test_mim_download_fetches_weights_by_name(installed, tmp_path):
    """``mim download vitpose_mm --config NAME`` fetches the ``Weights`` of
    a metafile entry and dumps its config. The installed copy's index is
    replaced by one naming a checkpoint on a server on 127.0.0.1 (no
    machine here reaches the released files' hosts)."""
    if not MIM.is_file():
        pytest.skip(f'mim is not installed next to {sys.executable}')
    from tests.hub.server import CheckpointServer
    from tests.hub.test_weights_by_name import NAME, TINY_CONFIG, _metafile
    site = tmp_path / 'site'
    shutil.copytree(installed, site, symlinks=True)
    mim = site / 'vitpose_mm' / '.mim'
    (mim / 'test_tiny.py').write_text(TINY_CONFIG)
    data = os.urandom(4096)  # mim stores the bytes as they come
    with CheckpointServer() as server:
        server.files['/zoo/tiny.pth'] = (data, 'file')
        (mim / 'test_metafile.yml').write_text(
            _metafile(server.url('/zoo/tiny.pth'), 'test_tiny.py'))
        (mim / 'model-index.yml').write_text(
            'Import:\n- test_metafile.yml\n')
        dest = tmp_path / 'dest'
        out = _run([str(MIM), 'download', 'vitpose_mm', '--config', NAME,
                    '--dest', str(dest)], site, tmp_path)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert (dest / 'tiny.pth').read_bytes() == data
    assert server.requests['/zoo/tiny.pth'] == 1
    dumped = (dest / f'{NAME}.py').read_text()
    assert 'embed_dim=32' in dumped.replace(' ', '')
