"""mmengine training checkpoints in every client, without unpickling code.

Two training checkpoints of the tiny ViTPose on the real tiny COCO set: one
written by ``vitpose_mm.tools.train``, one by mmpose's own
``tools/train.py`` (stock mmengine Runner). Both must load, with
``torch.load(weights_only=True)`` and no ``--unsafe-pickle``, in our test
tool, ``init_pose_model`` (the demo), ``mmpose.apis.init_model``,
``MMPoseInferencer``, mmpose's ``tools/test.py``, ``load_from`` and
``--resume``. A checkpoint whose pickle calls ``os.system`` is refused by all
of them and the command never runs.
"""
import os
import pickle
import pickletools
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.conftest import require_shared
from tests.tools.test_train_test import CONFIG, TINY_RUN, run_tool

MMPOSE_TOOLS = Path(__import__('mmpose').__file__).parent / '.mim/tools'


class _Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """{'ours': (config, ckpt), 'stock': (config, ckpt)}, data_root."""
    data_root = str(require_shared('data/coco')) + '/'
    out = {}
    for name, tool in (('ours', ['-m', 'vitpose_mm.tools.train']),
                       ('stock', [str(MMPOSE_TOOLS / 'train.py')])):
        work_dir = tmp_path_factory.mktemp(name)
        run_tool([
            *tool,
            str(CONFIG), '--work-dir',
            str(work_dir), '--cfg-options', f'data_root={data_root}',
            *TINY_RUN
        ])
        out[name] = (work_dir / CONFIG.name, work_dir / 'epoch_1.pth')
    return out, data_root


@pytest.fixture(scope='module')
def payload(tmp_path_factory, checkpoints):
    """(checkpoint with an os.system payload, marker it would create)."""
    folder = tmp_path_factory.mktemp('payload')
    marker = folder / 'PWNED'
    _, ckpt = checkpoints[0]['ours']
    state = torch.load(ckpt, map_location='cpu')
    state['meta']['note'] = _Payload(marker)
    path = folder / 'payload.pth'
    torch.save(state, path)
    return path, marker


def _globals_in(path):
    """'module.name' of every GLOBAL opcode in a torch.save zip."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
        ops = pickletools.genops(archive.read(name))
        return {
            arg.replace(' ', '.').replace('__builtin__', 'builtins')
            for op, arg, _ in ops if op.name == 'GLOBAL'
        }


def _state(path):
    return torch.load(path, map_location='cpu')['state_dict']


def _assert_weights(model, path):
    state = model.state_dict()
    for key, value in _state(path).items():
        torch.testing.assert_close(state[key], value, msg=key)


@pytest.mark.parametrize('source', ['ours', 'stock'])
def test_checkpoint_holds_mmengine_objects_and_loads_weights_only(
        checkpoints, source):
    _, ckpt = checkpoints[0][source]
    # what makes stock torch refuse the file: the allow-list covers it
    found = _globals_in(ckpt)
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in found
    assert 'builtins.getattr' in found
    loaded = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert loaded['meta']['epoch'] == 1
    assert len(loaded['message_hub']['log_scalars']['train/loss'].data[0]) == 2
    assert isinstance(loaded['meta']['dataset_meta']['sigmas'], np.ndarray)


@pytest.mark.parametrize('source', ['ours', 'stock'])
def test_in_process_clients_load_without_flag(checkpoints, source):
    from mmpose.apis import MMPoseInferencer, init_model
    from mmpose.registry import MODELS

    from vitpose_mm.apis import init_pose_model
    from vitpose_mm.tools import test as test_tool
    config, ckpt = checkpoints[0][source]
    cfg = Config.fromfile(config)

    model = MODELS.build(cfg.model)
    test_tool.load_weights(model, str(ckpt))
    _assert_weights(model, ckpt)
    _assert_weights(init_pose_model(str(config), str(ckpt), fast=False),
                    ckpt)
    _assert_weights(init_model(str(config), str(ckpt), device='cpu'), ckpt)
    inferencer = MMPoseInferencer(
        pose2d=str(config),
        pose2d_weights=str(ckpt),
        det_model='whole_image',
        device='cpu')
    _assert_weights(inferencer.inferencer.model, ckpt)
    image = str(require_shared('data/coco') / '000000000785.jpg')
    result = next(inferencer(image))
    keypoints = np.array(result['predictions'][0][0]['keypoints'])
    assert keypoints.shape == (17, 2)


def test_stock_mmpose_test_tool_loads_our_checkpoint(checkpoints, tmp_path):
    (config, ckpt), data_root = checkpoints[0]['ours'], checkpoints[1]
    result = run_tool([
        str(MMPOSE_TOOLS / 'test.py'),
        str(config),
        str(ckpt), '--work-dir',
        str(tmp_path), '--cfg-options', f'data_root={data_root}'
    ])
    assert 'coco/AP: ' in result.stdout + result.stderr


def test_resume_and_load_from_stock_checkpoint(checkpoints, tmp_path):
    (_, ckpt), data_root = checkpoints[0]['stock'], checkpoints[1]
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(tmp_path / 'resume'), '--resume',
        str(ckpt), '--cfg-options', f'data_root={data_root}', *TINY_RUN,
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=5'
    ])
    log = result.stdout + result.stderr
    assert 'resumed epoch: 1' in log and 'Epoch(train) [2][2/2]' in log
    resumed = torch.load(tmp_path / 'resume/epoch_2.pth', map_location='cpu')
    # the optimizer and scheduler state continued: 4 AdamW steps in all
    steps = {int(s['step']) for s in resumed['optimizer']['state'].values()}
    assert steps == {4}
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(tmp_path / 'load'), '--cfg-options', f'data_root={data_root}',
        f'load_from={ckpt}', *TINY_RUN
    ])
    assert 'Load checkpoint from' in result.stdout + result.stderr


def test_payload_is_refused_by_every_client(checkpoints, payload, tmp_path):
    from mmpose.apis import MMPoseInferencer, init_model
    from mmpose.registry import MODELS

    from vitpose_mm.apis import init_pose_model
    from vitpose_mm.apis.inputs import InputError
    from vitpose_mm.tools import test as test_tool
    path, marker = payload
    (config, _), data_root = checkpoints[0]['ours'], checkpoints[1]
    cfg = Config.fromfile(config)
    with pytest.raises(SystemExit, match=r'posix\.system|os\.system'):
        test_tool.load_weights(MODELS.build(cfg.model), str(path))
    with pytest.raises(InputError, match='system'):
        init_pose_model(str(config), str(path), fast=False)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        init_model(str(config), str(path), device='cpu')
    with pytest.raises(pickle.UnpicklingError, match='system'):
        MMPoseInferencer(
            pose2d=str(config),
            pose2d_weights=str(path),
            det_model='whole_image',
            device='cpu')
    options = ['--work-dir', str(tmp_path), '--cfg-options',
               f'data_root={data_root}', *TINY_RUN]
    for args, extra in (
        ([str(MMPOSE_TOOLS / 'test.py'), str(config), str(path)], []),
        (['-m', 'vitpose_mm.tools.test', str(config), str(path)], []),
        (['-m', 'vitpose_mm.tools.train', str(CONFIG), '--resume',
          str(path)], []),
        (['-m', 'vitpose_mm.tools.train', str(CONFIG)],
         [f'load_from={path}']),
    ):
        result = run_tool([*args, *options, *extra], check=False)
        assert result.returncode != 0, args
        assert 'system' in result.stderr, (args, result.stderr[-2000:])
    assert not marker.exists()


def test_getattr_stand_in_reaches_nothing_else():
    from mmengine.logging import HistoryBuffer

    from vitpose_mm.checkpoint.safe_globals import history_buffer_method
    assert history_buffer_method(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in ((HistoryBuffer, '__init__'), (np.ndarray, 'tofile'),
                      (os, 'system')):
        with pytest.raises(pickle.UnpicklingError, match=repr(name)):
            history_buffer_method(obj, name)


def test_file_calling_getattr_on_other_objects_is_refused(tmp_path):
    """A pickle that calls getattr(numpy.ndarray, 'tofile') is refused."""
    import vitpose_mm  # noqa: F401  (the allow-list is in place)

    class Sneaky:

        def __reduce__(self):
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match="'tofile'"):
        torch.load(path, weights_only=True)

