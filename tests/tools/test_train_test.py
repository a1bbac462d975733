"""End to end: vitpose_mm.tools.train / test as subprocesses on the real tiny
COCO set (../shared/data/coco) with a very small ViTPose."""
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO, require_shared
from vitpose_mm.tools import test as test_tool
from vitpose_mm.tools import train as train_tool

CONFIG = (
    REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco_tiny/'
    'vitpose-mm_td-hm_ViTPose-tiny_1xb14-100e_coco-tiny-128x96.py')
#: --cfg-options that shrink the main-job config to a seconds-long run:
#: a 32-wide, 2-block ViT, two training iterations of 7 people, one
#: validation at the end.
TINY_RUN = [
    'train_cfg.max_epochs=1',
    'train_cfg.val_interval=1',
    'train_dataloader.batch_size=7',
    'model.backbone.arch=None',
    'model.backbone.embed_dim=32',
    'model.backbone.depth=2',
    'model.backbone.num_heads=2',
    'model.head.in_channels=32',
    'model.head.deconv_out_channels=(16,16)',
    'optim_wrapper.paramwise_cfg.num_layers=2',
]


def run_tool(args, cwd=REPO, check=True):
    """Run ``args`` (after the Python executable) and return the result."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    result = subprocess.run([sys.executable, *args],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f'{args} failed:\n{result.stdout[-3000:]}\n'
                             f'{result.stderr[-3000:]}')
    return result


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the tiny model once: (work_dir, data_root, stdout)."""
    data_root = str(require_shared('data/coco')) + '/'
    work_dir = tmp_path_factory.mktemp('train')
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(work_dir), '--cfg-options', f'data_root={data_root}', *TINY_RUN
    ])
    return work_dir, data_root, result.stdout + result.stderr


def test_train_runs_two_iterations_and_validates(trained):
    work_dir, data_root, log = trained
    assert 'Epoch(train) [1][2/2]' in log
    assert 'coco/AP: ' in log
    # the override reached the datasets, not just the top-level key
    cfg = Config.fromfile(work_dir / CONFIG.name)
    assert cfg.train_dataloader.dataset.data_root == data_root
    assert cfg.val_evaluator.ann_file == data_root + 'test_coco.json'
    assert (work_dir / 'epoch_1.pth').is_file()


def test_checkpoint_reloads_strictly(trained):
    from mmpose.registry import MODELS
    work_dir, _, _ = trained
    cfg = Config.fromfile(work_dir / CONFIG.name)
    model = MODELS.build(cfg.model)
    ckpt = torch.load(
        work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 1
    model.load_state_dict(ckpt['state_dict'], strict=True)
    assert model.backbone.embed_dim == 32
    # the test tool's loader reads the training checkpoint without
    # unpickling code (tests/clients checks the refusal of other objects)
    model = MODELS.build(cfg.model)
    test_tool.load_weights(model, str(work_dir / 'epoch_1.pth'))
    for key, value in ckpt['state_dict'].items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_resume_continues_from_the_checkpoint(trained, tmp_path):
    work_dir, data_root, _ = trained
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(tmp_path), '--resume',
        str(work_dir / 'epoch_1.pth'), '--cfg-options',
        f'data_root={data_root}', *TINY_RUN, 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=5'
    ])
    log = result.stdout + result.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [2][2/2]' in log
    assert 'Epoch(train) [1]' not in log


def test_resume_refuses_a_missing_checkpoint(tmp_path):
    with pytest.raises(SystemExit, match="resume from not found: '.*nope"):
        train_tool.main([str(CONFIG), '--resume', str(tmp_path / 'nope')])


def test_test_tool_reports_ap_and_writes_metrics(trained, tmp_path):
    work_dir, data_root, _ = trained
    out, dump = tmp_path / 'metrics.json', tmp_path / 'preds.pkl'
    result = run_tool([
        '-m', 'vitpose_mm.tools.test',
        str(CONFIG),
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path), '--out',
        str(out), '--dump',
        str(dump), '--cfg-options', f'data_root={data_root}', *TINY_RUN
    ])
    assert 'coco/AP: ' in result.stdout + result.stderr
    metrics = json.loads(out.read_text())
    assert 0. <= metrics['coco/AP'] <= 1.
    # the umask's mode, as open() gives (issue 20: it was 0600)
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 12  # the 12 of 14 people with keypoints


def test_bad_data_root_is_one_clear_line(tmp_path):
    missing = tmp_path / 'no_coco'
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(tmp_path), '--cfg-options', f'data_root={missing}/'
    ],
                      check=False)
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('vitpose_mm: data not found: ')
    assert 'train_dataloader.dataset.data_root' in last
    assert str(missing) in last and '--cfg-options data_root=' in last


def test_test_tool_rejects_a_missing_checkpoint(tmp_path):
    with pytest.raises(SystemExit, match="checkpoint not found: '.*nope"):
        test_tool.main([str(CONFIG), str(tmp_path / 'nope.pth')])


def test_test_tool_evaluates_fsdp_configs_with_the_plain_runner(trained,
                                                                tmp_path):
    """A FlexibleRunner + FSDP training config (whose checkpoints are full
    state dicts) is evaluated without FSDP, here on the CPU."""
    work_dir, data_root, _ = trained
    result = run_tool([
        '-m', 'vitpose_mm.tools.test',
        str(CONFIG),
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path), '--cfg-options', f'data_root={data_root}', *TINY_RUN,
        'runner_type=FlexibleRunner', 'strategy.type=FSDPStrategy'
    ])
    assert 'coco/AP: ' in result.stdout + result.stderr


def test_train_options_reach_the_config(tmp_path):
    args = train_tool.parse_args([
        str(CONFIG), '--no-validate', '--auto-scale-lr', '--show-dir', 'vis',
        '--interval', '3'
    ])
    cfg = train_tool.merge_args(Config.fromfile(CONFIG), args)
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.val_evaluator is None
    assert cfg.auto_scale_lr.enable is True
    assert cfg.auto_scale_lr.base_batch_size == 14
    hook = cfg.default_hooks.visualization
    assert (hook.enable, hook.out_dir, hook.interval) == (True, 'vis', 3)
    # without the flags nothing changes
    cfg = train_tool.merge_args(
        Config.fromfile(CONFIG), train_tool.parse_args([str(CONFIG)]))
    assert cfg.val_cfg is not None and not cfg.auto_scale_lr.get('enable')
    assert cfg.default_hooks.visualization.enable is False


def test_auto_scale_lr_needs_a_base_batch_size():
    cfg = Config.fromfile(CONFIG)
    cfg.auto_scale_lr = None
    with pytest.raises(SystemExit, match='auto_scale_lr.base_batch_size'):
        train_tool.merge_args(
            cfg, train_tool.parse_args([str(CONFIG), '--auto-scale-lr']))


def test_train_without_validation_runs_no_evaluation(tmp_path):
    data_root = str(require_shared('data/coco')) + '/'
    result = run_tool([
        '-m', 'vitpose_mm.tools.train',
        str(CONFIG), '--work-dir',
        str(tmp_path), '--no-validate', '--cfg-options',
        f'data_root={data_root}', *TINY_RUN
    ])
    log = result.stdout + result.stderr
    assert 'Epoch(train) [1][2/2]' in log
    assert 'coco/AP: ' not in log and 'Epoch(val)' not in log
    assert (tmp_path / 'epoch_1.pth').is_file()


def test_test_tool_draws_predictions_and_bad_cases(trained, tmp_path):
    work_dir, data_root, _ = trained
    run_tool([
        '-m', 'vitpose_mm.tools.test',
        str(CONFIG),
        str(work_dir / 'epoch_1.pth'), '--work-dir',
        str(tmp_path), '--show-dir', 'vis', '--badcase', '--cfg-options',
        f'data_root={data_root}', *TINY_RUN
    ])
    drawn = list(tmp_path.glob('*/vis/*.jpg'))
    # one drawing per annotated person of the 4 images (12 with keypoints)
    assert len(drawn) == 12, drawn
    badcases = list(tmp_path.glob('*/badcase/*'))
    assert badcases, sorted(p.name for p in tmp_path.rglob('*'))
