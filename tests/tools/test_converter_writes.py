"""The checkpoint converters never destroy a file: an output that is the
source through a symlink or a hard link is refused (before issue 20,
``convert_checkpoint src.pth link.pth --to original`` with ``link.pth ->
src.pth`` turned a training checkpoint into a bare state dict, exit 0),
and a write that fails (a full disk) keeps the existing output intact and
leaves no temporary file (before: a torn 4 MiB file and a traceback)."""
import os
import resource
import stat
import subprocess
import sys

import pytest
import torch

from tests.checkpoint.helpers import build_pose_model
from tests.conftest import REPO
from vitpose_mm.engine.atomic_files import WriteError, write_atomically
from vitpose_mm.tools import convert_checkpoint, moe_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    """A training-style checkpoint (state dict, meta, optimizer)."""
    model = build_pose_model('classic')
    path = tmp_path / 'src.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(epoch=3),
            optimizer=dict(state={}, param_groups=[dict(lr=0.1)])), path)
    return path


def _cli(*args, limit=None):
    """Run the converter as a user would; ``limit``: a file size limit in
    bytes (RLIMIT_FSIZE) under which writes fail as on a full disk."""

    def preexec():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, '-m', 'vitpose_mm.tools.convert_checkpoint',
         *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        preexec_fn=preexec)


def _one_line_refusal(result):
    assert result.returncode == 1, result.stderr
    assert 'Traceback' not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        'convert_checkpoint: error: '), result.stderr
    return lines[0]


def test_symlink_to_the_source_is_refused(tmp_path, checkpoint):
    link = tmp_path / 'link.pth'
    link.symlink_to(checkpoint)
    before = checkpoint.read_bytes()
    line = _one_line_refusal(_cli(checkpoint, link, '--to', 'original'))
    assert line == (f'convert_checkpoint: error: DST must differ from SRC: '
                    f'{link} is {checkpoint} (a symlink or hard link to '
                    'it); writing it would destroy the source')
    assert checkpoint.read_bytes() == before and link.is_symlink()


@pytest.mark.parametrize('tool', ['convert', 'moe split', 'moe merge'])
def test_hard_link_to_the_source_is_refused(tmp_path, checkpoint, capsys,
                                            tool):
    link = tmp_path / 'hard.pth'
    os.link(checkpoint, link)
    before = checkpoint.read_bytes()
    if tool == 'convert':
        code = convert_checkpoint.main([str(checkpoint), str(link)])
    elif tool == 'moe split':
        code = moe_checkpoint.main(
            ['split', str(checkpoint), str(link), '--dataset', '0'])
    else:
        code = moe_checkpoint.main([
            'merge',
            str(link),
            str(tmp_path / 'other.pth'),
            str(checkpoint), '--datasets', 'a,b', '--part-features', '8'
        ])
    err = capsys.readouterr().err
    assert code == 1 and err.count('\n') == 1, err
    assert f'{link} is {checkpoint} (a symlink or hard link to it)' in err
    assert checkpoint.read_bytes() == before
    assert os.stat(link).st_nlink == 2


def test_a_folder_as_output_is_refused(tmp_path, checkpoint, capsys):
    (tmp_path / 'out.pth').mkdir()
    assert convert_checkpoint.main(
        [str(checkpoint), str(tmp_path / 'out.pth')]) == 1
    assert capsys.readouterr().err == (
        f'convert_checkpoint: error: DST {tmp_path}/out.pth is a folder; '
        'name a file\n')


@pytest.mark.parametrize('name', ['out.pth', 'out.safetensors'])
def test_failed_write_keeps_the_existing_output(tmp_path, checkpoint, name):
    """A write cut off by the file size limit (as by a full disk): the
    previous output stays byte for byte, no temporary file is left."""
    dst = tmp_path / name
    dst.write_bytes(b'previous good output')
    dst.chmod(0o640)
    line = _one_line_refusal(_cli(checkpoint, dst, limit=64 << 10))
    assert line == (f'convert_checkpoint: error: cannot write {dst}: File '
                    'too large; the existing file is unchanged')
    assert dst.read_bytes() == b'previous good output'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, 'src.pth'])
    if name.endswith('.safetensors'):
        return
    # without the limit the same command replaces it, keeping its mode
    result = _cli(checkpoint, dst)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(dst.stat().st_mode) == 0o640
    assert dst.stat().st_size > 64 << 10


@pytest.mark.parametrize('where, code, reason', [
    ('replace_durably', 28, 'No space left on device (disk full)'),
    # the mode allows it, the file system refuses the rename (NFS, ACLs)
    ('os.replace', 13, 'Permission denied'),
])
def test_failed_write_names_why(tmp_path, monkeypatch, where, code, reason):
    """ENOSPC from the write, EACCES from the rename: one line saying
    why, the old file intact, no .tmp left."""
    dst = tmp_path / 'metrics.json'
    dst.write_text('{"old": 1}')

    def fail(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(f'vitpose_mm.engine.atomic_files.{where}', fail)
    with pytest.raises(WriteError) as exc:
        write_atomically(dst, '{"new": 2}')
    assert str(exc.value) == (f'cannot write {dst}: {reason}; '
                              'the existing file is unchanged')
    assert dst.read_text() == '{"old": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ['metrics.json']


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomically(tmp_path / 'a.json', '{}')
        os.umask(0o077)
        write_atomically(tmp_path / 'b.json', '{}')
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / 'a.json').stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / 'b.json').stat().st_mode) == 0o600


@pytest.mark.parametrize('what', ['file', 'folder'])
def test_read_only_output_is_refused(tmp_path, checkpoint, make_read_only,
                                     capsys, what):
    """A read-only DST (or its folder) is refused in one line before the
    source is read; the old file stays (a rename could replace a
    read-only file: its mode says not to)."""
    folder = tmp_path / 'out'
    folder.mkdir()
    dst = folder / 'out.pth'
    dst.write_bytes(b'previous good output')
    make_read_only(dst if what == 'file' else folder)
    assert convert_checkpoint.main([str(checkpoint), str(dst)]) == 1
    reason = ('the file is read-only; the existing file is unchanged'
              if what == 'file' else f'the folder {folder} is read-only')
    assert capsys.readouterr().err == (
        f'convert_checkpoint: error: cannot write {dst}: {reason}\n')
    assert dst.read_bytes() == b'previous good output'
    assert sorted(p.name for p in folder.iterdir()) == ['out.pth']

