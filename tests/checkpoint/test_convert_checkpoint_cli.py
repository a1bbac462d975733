"""``python -m vitpose_mm.tools.convert_checkpoint`` end to end on files."""
import runpy
import sys
from argparse import Namespace

import pytest
import torch

from tests.checkpoint.helpers import TINY, build_pose_model, randomise_
from tests.conftest import REPO
from vitpose_mm.checkpoint import detect_layout, load_state_dict_file
from vitpose_mm.tools.convert_checkpoint import main

BASE_CFG = REPO / 'configs/_base_/vitpose_coco-256x192.py'
SMALL_CFG = (
    REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco/'
    'vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py')


@pytest.fixture(scope='module')
def ours_file(tmp_path_factory):
    """A tiny classic-decoder model saved in our layout."""
    model = randomise_(build_pose_model('classic'), seed=11)
    path = tmp_path_factory.mktemp('ckpt') / 'ours.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path, model.state_dict()


def tiny_config(folder, embed_dim):
    """A delta on our base config with the tiny sizes of the helpers."""
    path = folder / f'tiny_{embed_dim}.py'
    path.write_text(
        f'_base_ = [{str(BASE_CFG)!r}]\n'
        f'model = dict(backbone=dict(arch=None, img_size={TINY["img_size"]}, '
        f'embed_dim={embed_dim}, depth={TINY["depth"]}, '
        f'num_heads={TINY["num_heads"]}, drop_path_rate=0.),\n'
        f'    head=dict(in_channels={embed_dim}, out_channels=5))\n')
    return str(path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same(a, b):
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('to, name',
                         [('hf', 'hf.safetensors'), ('hf', 'hf.bin'),
                          ('original', 'orig.pth'), ('mmpose', 'mm.pth')])
def test_convert_and_back(tmp_path, capsys, ours_file, to, name):
    src, state = ours_file
    there = tmp_path / name
    code, out, _ = run(capsys, src, there, '--to', to)
    assert code == 0 and f'({to})' in out
    raw = (
        load_state_dict_file(str(there)) if name.endswith('safetensors') else
        torch.load(there, weights_only=True))
    if to == 'hf':
        assert 'state_dict' not in raw  # a bare state dict
    else:
        assert raw['meta']['source_layout'] == 'vitpose_mm'
        assert raw['meta']['layout'] == to
    assert detect_layout(load_state_dict_file(str(there))) == to
    back = tmp_path / 'back.pth'
    assert run(capsys, there, back)[0] == 0
    back_state = load_state_dict_file(str(back))
    if to == 'mmpose':  # the cls row is folded: compare the sums added
        for s in (back_state, state):
            pos = s.pop('backbone.pos_embed')
            s['sum'] = pos[:, 1:] + pos[:, :1]
    assert_same(back_state, state)


def test_config_that_fits(tmp_path, capsys, ours_file):
    code, _, err = run(capsys, ours_file[0], tmp_path / 'ok.pth', '--config',
                       tiny_config(tmp_path, 32))
    assert code == 0, err
    assert (tmp_path / 'ok.pth').exists()


def test_config_that_does_not_fit(tmp_path, capsys, ours_file):
    dst = tmp_path / 'no.pth'
    code, _, err = run(capsys, ours_file[0], dst, '--config',
                       tiny_config(tmp_path, 64))
    assert code == 1
    assert err.count('\n') == 1
    assert ('backbone.pos_embed is (1, 13, 32) in the checkpoint but '
            '(1, 13, 64) in the model') in err
    assert not dst.exists()


def test_pickled_file_needs_the_flag(tmp_path, capsys, ours_file):
    src = tmp_path / 'train.pth'
    torch.save({'state_dict': ours_file[1], 'meta': Namespace(epoch=1)}, src)
    code, _, err = run(capsys, src, tmp_path / 'a.pth')
    assert code == 1 and '--unsafe-pickle' in err
    assert run(capsys, src, tmp_path / 'a.pth', '--unsafe-pickle')[0] == 0


@pytest.mark.filterwarnings('ignore::RuntimeWarning')  # runpy re-import
def test_module_entry_refuses_a_shipped_config(tmp_path, capsys, monkeypatch):
    """``python -m`` entry point: tiny 17-keypoint weights into the ViTPose-S
    config (as ViTPose-B weights into a ViTPose-L config)."""
    src, dst = tmp_path / 'tiny17.pth', tmp_path / 'no.pth'
    torch.save(build_pose_model('classic', num_keypoints=17).state_dict(), src)
    monkeypatch.setattr(
        sys, 'argv',
        ['convert_checkpoint',
         str(src),
         str(dst), '--config',
         str(SMALL_CFG)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(
            'vitpose_mm.tools.convert_checkpoint', run_name='__main__')
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('convert_checkpoint: error')
    assert ('backbone.pos_embed is (1, 13, 32) in the checkpoint but '
            '(1, 193, 384) in the model') in err
    assert not dst.exists()
