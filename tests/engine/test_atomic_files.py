"""write_atomically: the file is complete or untouched, never half new."""
import json
import os

import pytest

from vitpose_mm.engine import atomic_files
from vitpose_mm.tools.test import SaveMetricsHook


def test_text_and_bytes_replace_the_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / 'out.json'
    atomic_files.write_atomically(path, '{"a": 1}')
    atomic_files.write_atomically(path, b'{"a": 2}')
    assert json.loads(path.read_text()) == {'a': 2}
    assert os.listdir(tmp_path) == ['out.json']


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'out.json'
    path.write_text('old')

    def killed(src, dst):
        raise KeyboardInterrupt  # e.g. Ctrl-C between write and rename

    monkeypatch.setattr(atomic_files.os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_files.write_atomically(path, 'new')
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.json']


@pytest.mark.parametrize('ext', ['json', 'yaml', 'pkl'])
def test_test_tool_metrics_go_through_it(tmp_path, monkeypatch, ext):
    written = []
    monkeypatch.setattr(
        'vitpose_mm.tools.test.write_atomically',
        lambda path, data: written.append((path, data)))
    out = str(tmp_path / f'metrics.{ext}')
    SaveMetricsHook(out).after_test_epoch(None, {'coco/AP': 0.5})
    assert len(written) == 1 and written[0][0] == out
    assert isinstance(written[0][1], bytes if ext == 'pkl' else str)
