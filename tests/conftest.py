"""Shared pytest fixtures.

Tests that need the files of ``../shared`` (real tiny datasets, the original
ViTPose fixtures, the YOLOX detector) find them through ``VITPOSE_MM_SHARED``
or at ``<repo>/../shared`` and are skipped, with the reason, when absent.
Where ``VITPOSE_MM_REQUIRE_SHARED=1`` (``.ci/run`` sets it) a missing shared
file fails the test instead: CI cannot pass by skipping.
"""
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    """The shared folder: $VITPOSE_MM_SHARED, else <repo>/../shared."""
    return Path(os.environ.get('VITPOSE_MM_SHARED', REPO.parent / 'shared'))


def require_shared(relpath: str) -> Path:
    """Path of a file or folder under the shared folder.

    Skips the test when it is absent, or fails it where the environment sets
    ``VITPOSE_MM_REQUIRE_SHARED=1``.
    """
    path = shared_root() / relpath
    if not path.exists():
        reason = (f'{path} not found: set VITPOSE_MM_SHARED to the folder '
                  'holding data/, fixtures/ and weights/')
        if os.environ.get('VITPOSE_MM_REQUIRE_SHARED') == '1':
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


def load_fixture(name: str) -> dict:
    """Load one original-ViTPose fixture file, e.g. ``vit_classic.pt``."""
    path = require_shared(f'fixtures/original_vitpose/{name}')
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='session', autouse=True)
def _registries():
    """mmpose's modules registered once, as a runner does."""
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    import vitpose_mm  # noqa: F401


@pytest.fixture
def coco_tiny() -> Path:
    """The real tiny COCO set (4 images, 14 annotated people)."""
    return require_shared('data/coco')


@pytest.fixture
def make_read_only():
    """``make_read_only(path)``: make a file or folder read-only for this
    process until the test ends. A non-root user gets ``chmod a-w``; root,
    whom modes do not bind, ``chattr +i`` (immutable: refused to root
    too, on ext2/3/4, XFS, btrfs). Skips where neither is possible."""
    import stat
    import subprocess
    undo = []

    def make(path: Path) -> Path:
        if os.geteuid() != 0:
            mode = stat.S_IMODE(path.stat().st_mode)
            path.chmod(mode & ~0o222)
            undo.append(lambda: path.chmod(mode))
        else:
            done = subprocess.run(['chattr', '+i', str(path)],
                                  capture_output=True, text=True)
            if done.returncode:
                pytest.skip(f'root cannot make {path} read-only here '
                            f'(chattr +i: {done.stderr.strip()})')
            undo.append(lambda: subprocess.run(['chattr', '-i', str(path)],
                                               check=True))
        assert not os.access(path, os.W_OK)
        return path

    yield make
    for step in reversed(undo):
        step()
