"""Reading and writing checkpoint files: wrappers, safetensors, and the
refusal to unpickle unless asked."""
from argparse import Namespace

import pytest
import torch

from vitpose_mm.checkpoint import (UnsafeCheckpointError, load_state_dict_file,
                                   save_state_dict_file)

STATE = {
    'backbone.pos_embed': torch.arange(6.).reshape(1, 2, 3),
    'head.deconv_layers.1.num_batches_tracked': torch.tensor(5)
}


def assert_equal_states(a, b):
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype
        assert torch.equal(a[key], b[key])


@pytest.mark.parametrize(
    'wrap',
    [
        lambda s: s,
        lambda s: {
            'state_dict': s,
            'meta': {
                'epoch': 3
            }
        },
        lambda s: {
            'model': s,
            'args': 'x'
        },  # MAE release
        lambda s: {
            'module': s
        },  # DeepSpeed
        lambda s: {
            'state_dict': {
                f'module.{k}': v
                for k, v in s.items()
            }
        },
    ],
    ids=['bare', 'state_dict', 'model', 'module', 'module-prefix'])
def test_unwraps(tmp_path, wrap):
    path = tmp_path / 'ckpt.pth'
    torch.save(wrap(STATE), path)
    assert_equal_states(load_state_dict_file(str(path)), STATE)


@pytest.mark.parametrize('name', ['ckpt.safetensors', 'ckpt.pth'])
@pytest.mark.parametrize('wrap', [True, False])
def test_save_then_load(tmp_path, name, wrap):
    path = str(tmp_path / 'sub' / name)
    view = torch.arange(12.).reshape(3, 4)[:, 1:]  # non-contiguous
    state = {**STATE, 'x': view}
    save_state_dict_file(state, path, meta={'source': 'a.pth'}, wrap=wrap)
    assert_equal_states(load_state_dict_file(path), state)
    if name.endswith('.pth'):
        raw = torch.load(path, weights_only=True)
        assert ('state_dict' in raw) is wrap
        if wrap:
            assert raw['meta'] == {'source': 'a.pth'}
    else:
        from safetensors import safe_open
        with safe_open(path, 'pt') as f:
            assert f.metadata() == {'format': 'pt', 'source': 'a.pth'}


def test_refuses_to_unpickle_unless_asked(tmp_path):
    path = str(tmp_path / 'train.pth')
    torch.save({'state_dict': STATE, 'meta': Namespace(lr=0.1)}, path)
    with pytest.raises(
            UnsafeCheckpointError,
            match=r'argparse\.Namespace.*allow_pickle=True '
            r'.*--unsafe-pickle'):
        load_state_dict_file(path)
    assert_equal_states(load_state_dict_file(path, allow_pickle=True), STATE)


@pytest.mark.parametrize('content, match', [
    ({
        'state_dict': {
            'a': 1
        }
    }, "entry 'a' holds a int"),
    ([torch.zeros(1)], 'holds a list'),
    ({}, 'empty state dict'),
])
def test_not_a_state_dict(tmp_path, content, match):
    path = str(tmp_path / 'x.pth')
    torch.save(content, path)
    with pytest.raises(ValueError, match=match):
        load_state_dict_file(path)


def test_not_a_checkpoint_or_missing(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('not a checkpoint')
    with pytest.raises(
            ValueError, match='notes.pth is not a PyTorch '
            'checkpoint'):
        load_state_dict_file(str(path))
    with pytest.raises(
            FileNotFoundError, match='No checkpoint file at '
            '.*absent.pth'):
        load_state_dict_file(str(tmp_path / 'absent.pth'))
    path = tmp_path / 'notes.safetensors'
    path.write_text('not a checkpoint')
    with pytest.raises(
            ValueError,
            match='notes.safetensors is not a '
            'readable safetensors file'):
        load_state_dict_file(str(path))
