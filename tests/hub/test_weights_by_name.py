"""Released weights by name or URL (issue 22 items 2 and 4), against a
checkpoint server on 127.0.0.1 (:mod:`tests.hub.server`): no machine here
reaches download.openmmlab.com or huggingface.co.

The suite writes a random tiny ViTPose in mmpose's model-zoo layout with
the sha256 prefix in its file name, as OpenMMLab publishes them, and a
"checkout" whose ``model-index.yml`` names it (``vitpose_mm`` and
``configs`` linked from this one): that is where mmengine's inferencers
and our tools look for the names of scope ``vitpose_mm``. Expected
heatmaps come from the model the suite built, not from the code under
test.
"""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO
from tests.hub.server import CheckpointServer
from tests.tools.test_train_test import CONFIG
from vitpose_mm.checkpoint import convert_state_dict, save_state_dict_file

NAME = 'vitpose-mm_td-hm_ViTPose-test-tiny_coco-128x96'
ALIAS = 'vitpose-test'
#: What the tiny model is (the main job's config, shrunk).
TINY_CONFIG = f"""_base_ = ['{CONFIG}']
model = dict(
    backbone=dict(arch=None, embed_dim=32, depth=2, num_heads=2),
    head=dict(in_channels=32, deconv_out_channels=(16, 16)))
"""


def _metafile(weights: str, config: str) -> str:
    return textwrap.dedent(f"""\
        Models:
        - Name: {NAME}
          Alias: {ALIAS}
          Config: {config}
          Weights: {weights}
        """)


def _write_checkout(root: Path, weights: str) -> Path:
    """A checkout (``vitpose_mm``, ``configs`` linked) whose index names
    only the test model; it goes first on PYTHONPATH."""
    root.mkdir(parents=True)
    (root / 'vitpose_mm').symlink_to(REPO / 'vitpose_mm')
    (root / 'configs').symlink_to(REPO / 'configs')
    (root / 'test_tiny.py').write_text(TINY_CONFIG)
    (root / 'test_metafile.yml').write_text(
        _metafile(weights, 'test_tiny.py'))
    (root / 'model-index.yml').write_text('Import:\n- test_metafile.yml\n')
    return root


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    """A running server with the tiny model's mmpose-layout file, the
    checkout naming it, and the expected heatmaps."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    tmp = tmp_path_factory.mktemp('zoo')
    (tmp / 'tiny.py').write_text(TINY_CONFIG)
    with DefaultScope.overwrite_default_scope('mmpose'):  # whatever ran
        model = MODELS.build(Config.fromfile(tmp / 'tiny.py').model).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        x = torch.randn(2, 3, 128, 96, generator=torch.Generator()
                        .manual_seed(1))
        ref = model(x, None, mode='tensor')
    torch.save(dict(x=x, heatmaps=ref), tmp / 'expected.pth')
    raw = tmp / 'raw.pth'
    save_state_dict_file(convert_state_dict(model.state_dict(),
                                            to='mmpose'), str(raw))
    data = raw.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    file = f'/zoo/td-hm_ViTPose-test-tiny-{sha[:8]}_20230314.pth'
    with CheckpointServer() as server:
        server.files[file] = (data, 'file')
        server.sha = sha
        checkout = _write_checkout(tmp / 'checkout', server.url(file))
        yield dict(server=server, data=data, file=file, sha=sha, tmp=tmp,
                   checkout=checkout, expected=tmp / 'expected.pth')


def _env(checkout: Path, home: Path, **extra) -> dict:
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(checkout),
             str(REPO / 'projects' / 'vitpose_runtime')]),
        VITPOSE_MM_HOME=str(home),
        TORCH_HOME=str(home / 'torch'),
        PYTHONUNBUFFERED='1',
        **extra)


#: Loads the test model by name through our API, mmengine's scheme and
#: mmpose's inferencer; prints the largest heatmap difference of each.
CLIENTS = '''
import json, sys, warnings
import torch
warnings.simplefilter('ignore')
from mmpose.apis import MMPoseInferencer, init_model
from vitpose_mm.apis import init_pose_model
import vitpose_mm
import vitpose_mm.hub
NAME, ALIAS, expected = sys.argv[1], sys.argv[2], torch.load(sys.argv[3])

def diff(model):
    with torch.no_grad():
        out = model.eval()(expected['x'], None, mode='tensor')
    return float((out - expected['heatmaps']).abs().max())

ours = init_pose_model(None, ALIAS, fast=False)   # config from the name
assert vitpose_mm.__file__.startswith(sys.argv[4]), vitpose_mm.__file__
stock = init_model(ours.cfg, 'vitpose://' + NAME, device='cpu')
inferencer = MMPoseInferencer(pose2d=NAME, scope='vitpose_mm',
                              det_model='whole_image',
                              device='cpu')
vitpose_mm.hub.register_loaders()  # (already done by our backbone)
by_scheme = MMPoseInferencer(pose2d=NAME, scope='vitpose_mm',
                             pose2d_weights='vitpose://' + NAME,
                             det_model='whole_image', device='cpu')
print(json.dumps(dict(ours=diff(ours), scheme=diff(stock),
                      inferencer=diff(inferencer.inferencer.model),
                      inferencer_scheme=diff(by_scheme.inferencer.model))))
'''


def _clients(zoo, checkout, home):
    out = subprocess.run(
        [sys.executable, '-c', CLIENTS, NAME, ALIAS, str(zoo['expected']),
         str(checkout)],
        env=_env(checkout, home), capture_output=True, text=True,
        timeout=300, cwd=checkout)  # not this checkout, first on sys.path
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _files(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*')
                  if p.is_file())


def test_first_run_downloads_and_converts_once_second_runs_offline(
        zoo, tmp_path):
    """Run 1 (server up): our loader fetches, checks and converts the file
    once into $VITPOSE_MM_HOME; ``vitpose://NAME`` reads that cache;
    MMPoseInferencer(NAME) downloads the raw file into torch hub's cache
    (mmengine's way) and our load hook converts it. Run 2 with the server
    stopped: the same three, from the caches, no request."""
    home = tmp_path / 'home'
    with CheckpointServer() as server:
        server.files[zoo['file']] = (zoo['data'], 'file')
        checkout = _write_checkout(tmp_path / 'checkout',
                                   server.url(zoo['file']))
        first = _clients(zoo, checkout, home)
    assert first == dict(ours=pytest.approx(0, abs=1e-5),
                         scheme=pytest.approx(0, abs=1e-5),
                         inferencer=pytest.approx(0, abs=1e-5),
                         inferencer_scheme=pytest.approx(0, abs=1e-5))
    # one download by our loader, one by mmengine's (torch hub's cache)
    assert server.requests[zoo['file']] == 2
    ours = [f for f in _files(home) if not f.startswith('torch')]
    assert ours == [f'127.0.0.1_{server.httpd.server_port}/zoo/'
                    f'td-hm_ViTPose-test-tiny-{zoo["sha"][:8]}_20230314'
                    '.vitpose_mm.pth']
    cached = torch.load(home / ours[0], weights_only=True)
    assert cached['meta']['sha256'] == zoo['sha']
    assert cached['meta']['layout'] == 'mmpose'
    # kept in our layout
    assert 'backbone.blocks.0.attn.qkv.weight' in cached['state_dict']
    # the server is stopped: any request would be refused
    assert _clients(zoo, checkout, home) == first
    assert _files(home) == ours + [
        f for f in _files(home) if f.startswith('torch')]


def _fetch(zoo, url, home, monkeypatch, sha256=None, mirrors=None):
    from vitpose_mm.hub import fetch_weights
    monkeypatch.setenv('VITPOSE_MM_HOME', str(home))
    if mirrors:
        monkeypatch.setenv('VITPOSE_MM_MIRRORS', mirrors)
    return fetch_weights(url, sha256)


@pytest.mark.parametrize('mode, words', [
    ('truncated', 'was cut short'),
    ('html', 'returned an HTML page'),
    ('html-octet', 'returned an HTML page'),
])
def test_bad_download_is_one_line_and_caches_nothing(zoo, tmp_path,
                                                     monkeypatch, mode,
                                                     words):
    from vitpose_mm.hub import WeightsError
    server = zoo['server']
    path = f'/bad/{mode}/td-hm_ViTPose-test-tiny-{zoo["sha"][:8]}.pth'
    server.files[path] = (zoo['data'], mode)
    home = tmp_path / 'home'
    with pytest.raises(WeightsError) as err:
        _fetch(zoo, server.url(path), home, monkeypatch)
    msg = str(err.value)
    assert words in msg and server.url(path) in msg
    assert 'nothing was cached' in msg and '\n' not in msg
    assert _files(home) == []  # no download, no lock, no converted file


def test_hash_mismatch_of_a_released_name_is_refused(zoo, tmp_path,
                                                     monkeypatch):
    """The real ``vitpose-s`` entry, its host mirrored to the local server
    serving the tiny file under the released file name: the sha256 prefix
    in that name (mmpose's metafile) does not match."""
    from vitpose_mm.hub import WeightsError, get_model
    model = get_model('vitpose-s')
    prefix, file = model.weights.rsplit('/', 1)
    assert model.sha256 == '4c101a76'  # from the released file name
    zoo['server'].files[f'/mirror/{file}'] = (zoo['data'], 'file')
    home = tmp_path / 'home'
    with pytest.raises(WeightsError) as err:
        _fetch(zoo, model.weights, home, monkeypatch,
               mirrors=f'{prefix}={zoo["server"].url("/mirror")}')
    msg = str(err.value)
    assert f'expected {model.sha256}' in msg
    assert f'sha256 of {model.weights} (from ' in msg and '\n' not in msg
    assert _files(home) == []


def test_unknown_name_lists_close_names():
    from vitpose_mm.hub import WeightsError, resolve_checkpoint
    with pytest.raises(WeightsError, match=r"unknown model name "
                       r"'vitpose-small'; close names: .*vitpose-s"):
        resolve_checkpoint(None, 'vitpose-small')


RACER = '''
import json, os, sys, time
from pathlib import Path
from vitpose_mm.hub import fetch_weights
me, url, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3])
(ready / me).touch()
while len(list(ready.iterdir())) < 2:   # start together
    time.sleep(0.01)
start = time.time()
path = fetch_weights(url)
print(json.dumps(dict(path=str(path), start=start, end=time.time())))
'''


def test_two_processes_fetching_at_once_share_one_whole_file(zoo, tmp_path):
    """The file is served slowly (about 3 s); two processes ask for it at
    the same moment. One downloads, the other waits for it; both get the
    same complete file and no temporary file is left."""
    server = zoo['server']
    path = f'/slow/td-hm_ViTPose-test-tiny-{zoo["sha"][:8]}.pth'
    server.files[path] = (zoo['data'], 'slow')
    home, ready = tmp_path / 'home', tmp_path / 'ready'
    ready.mkdir()
    procs = [subprocess.Popen(
        [sys.executable, '-c', RACER, str(i), server.url(path), str(ready)],
        env=_env(zoo['checkout'], home), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    a, b = results
    assert a['start'] < b['end'] and b['start'] < a['end']  # overlapped
    assert a['path'] == b['path']
    assert server.requests[path] == 1
    assert _files(home) == [str(Path(a['path']).relative_to(home))]
    state = torch.load(a['path'], weights_only=True)
    assert state['meta']['sha256'] == zoo['sha']


def test_demo_takes_a_name_for_checkpoint_and_config(zoo, tmp_path):
    """``--pose-checkpoint NAME`` without ``--pose-config``: the name's
    config and cached weights; an unknown name is one line."""
    import cv2
    import numpy as np
    img = tmp_path / 'a.jpg'
    cv2.imwrite(str(img), np.full((200, 150, 3), 127, np.uint8))
    (tmp_path / 'boxes.json').write_text(
        json.dumps({'a.jpg': [[10, 10, 140, 190]]}))
    home = tmp_path / 'home'
    base = [sys.executable, '-m', 'vitpose_mm.tools.demo', '--input',
            str(img), '--bboxes', str(tmp_path / 'boxes.json'),
            '--no-render', '--eager', '--output-dir', str(tmp_path / 'out')]
    out = subprocess.run(base + ['--pose-checkpoint', ALIAS],
                         env=_env(zoo['checkout'], home), cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    people = json.loads((tmp_path / 'out' / 'a.json').read_text())
    assert len(people) == 1 and len(people[0]['keypoints']) == 17
    bad = subprocess.run(base + ['--pose-checkpoint', 'vitpose-tset'],
                         env=_env(zoo['checkout'], home), cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0
    last = bad.stderr.strip().splitlines()[-1]
    assert "unknown model name 'vitpose-tset'" in last
    assert ALIAS in last  # the close name
    assert 'Traceback' not in bad.stderr


def test_vitpose_plus_file_is_cached_as_one_datasets_plain_vitpose(
        zoo, tmp_path, monkeypatch):
    """A transformers ViTPose+ ``model.safetensors`` (six experts, one
    head), as ``usyd-community/vitpose-plus-*``, fetched for one dataset
    (``Weights Dataset``): cached once as the plain ViTPose of that
    dataset's expert in the released order (mpii: ``dataset_index=2``),
    whose heatmaps are transformers' for that index."""
    transformers = pytest.importorskip('transformers')
    from tests.checkpoint.helpers import build_pose_model, randomise_
    from tests.checkpoint.test_hf_moe_parity import batch, hf_backbone_config
    from vitpose_mm.hub import fetch_weights
    hf = randomise_(transformers.VitPoseForPoseEstimation(
        transformers.VitPoseConfig(
            backbone_config=hf_backbone_config(num_experts=6),
            num_labels=5, use_simple_decoder=False)).eval(), seed=31)
    raw = tmp_path / 'model.safetensors'
    save_state_dict_file(hf.state_dict(), str(raw))
    path = '/usyd/vitpose-plus-tiny/resolve/main/model.safetensors'
    zoo['server'].files[path] = (raw.read_bytes(), 'file')
    monkeypatch.setenv('VITPOSE_MM_HOME', str(tmp_path / 'home'))
    cached = fetch_weights(zoo['server'].url(path), dataset='mpii')
    assert cached.name == 'model.mpii.vitpose_mm.pth'
    state = torch.load(cached, weights_only=True)
    assert state['meta']['layout'] == 'hf'
    assert not any('experts' in k for k in state['state_dict'])
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpose'):
        plain = build_pose_model('classic')
    plain.load_state_dict(state['state_dict'], strict=True)
    x = batch()
    with torch.no_grad():
        want = hf(pixel_values=x, dataset_index=torch.tensor([2, 2]))
        got = plain(x, None, mode='tensor')
    torch.testing.assert_close(got, want.heatmaps, rtol=0, atol=1e-5)


def test_unwritable_cache_is_one_line(zoo, tmp_path, monkeypatch):
    from vitpose_mm.hub import WeightsError
    (tmp_path / 'file').write_text('not a folder')
    with pytest.raises(WeightsError, match=r'^cannot write the weights '
                       r'cache .*\(set \$VITPOSE_MM_HOME to another '
                       r'folder\)$'):
        _fetch(zoo, zoo['server'].url(zoo['file']), tmp_path / 'file',
               monkeypatch)
