"""Two-process data-parallel training on the CPU (gloo), end to end.

``torchrun --nproc_per_node 2 -m vitpose_mm.tools.train CONFIG --launcher
pytorch`` trains a tiny ViTPose for one epoch (two iterations per rank) on
the real tiny COCO set. Both ranks must end with identical parameters (DDP
averaged the gradients), and the checkpoint rank 0 wrote must load
strictly into a fresh model and hold them. BatchNorm running statistics
are not compared: without SyncBN each rank keeps its own (mmengine's DDP
does not broadcast buffers), and the checkpoint has rank 0's.

:class:`SaveRankWeights` is imported by the workers through the config's
``custom_imports``; it writes each rank's final weights for the check.
SyncBN is not exercised: ``torch.nn.SyncBatchNorm`` runs on GPUs only
(docs/scale.md).

The tool makes mmengine 0.10.7 run on the CPU (it assumes GPUs for
distributed training): it opens the gloo group and wraps the model with
``device_ids=None`` (:func:`vitpose_mm.tools.launcher_args.
prepare_cpu_distributed`); the config here asks for neither. The same run
also goes through ``FlexibleRunner`` with ``DDPStrategy`` (``runner_type``
in the config, as the FSDP config uses).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

REPO = Path(__file__).resolve().parents[2]
CONFIG = (REPO / 'configs/body_2d_keypoint/topdown_heatmap/coco/'
          'vitpose-mm_td-hm_ViTPose-small_8xb64-210e_coco-256x192.py')


@HOOKS.register_module(name='VitposeMMTestSaveRankWeights')
class SaveRankWeights(Hook):
    """After training, save this rank's parameters as
    ``<work_dir>/rank<r>.pth``."""

    def after_train(self, runner) -> None:
        from mmengine.dist import get_rank
        from mmengine.model import is_model_wrapper
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        params = {k: v.detach() for k, v in model.named_parameters()}
        torch.save(params, Path(runner.work_dir) / f'rank{get_rank()}.pth')


# The shipped ViTPose-S COCO recipe with a tiny backbone, on the tiny COCO
# set (its data_root comes from --cfg-options); imports this module in the
# workers (custom_imports are read when the config file is loaded).
TINY_CONFIG = f"""
_base_ = [{str(CONFIG)!r}]
custom_imports = dict(
    imports=['vitpose_mm', 'tests.tools.test_distributed'],
    allow_failed_imports=False)
custom_hooks = [dict(type='VitposeMMTestSaveRankWeights')]
model = dict(
    backbone=dict(embed_dim=32, depth=1, num_heads=2),
    head=dict(in_channels=32, deconv_out_channels=(16, 16)))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=1))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(ann_file='test_coco.json', data_prefix=dict(img='')))
train_cfg = dict(max_epochs=1)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
randomness = dict(seed=0)
"""
FLEXIBLE = """
runner_type = 'FlexibleRunner'
strategy = dict(type='DDPStrategy')
"""


@pytest.mark.parametrize('runner', ['Runner', 'FlexibleRunner'])
def test_two_ranks_train_to_identical_weights(coco_tiny, tmp_path, runner):
    torchrun = shutil.which('torchrun', path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip('torchrun not found next to the Python interpreter')
    work_dir = tmp_path / 'work'
    config = tmp_path / 'tiny_dist.py'
    config.write_text(TINY_CONFIG
                      + (FLEXIBLE if runner == 'FlexibleRunner' else ''))
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(REPO), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        [torchrun, '--nproc_per_node', '2', '--master_port',
         str(29500 + os.getpid() % 1000), '-m', 'vitpose_mm.tools.train',
         str(config), '--launcher', 'pytorch', '--work-dir', str(work_dir),
         '--cfg-options', f'data_root={coco_tiny}/'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # 14 people over 2 ranks, 4 per batch: two iterations on each rank,
    # each with a finite loss.
    assert 'Epoch(train) [1][2/2]' in log and 'loss: nan' not in log

    rank0 = torch.load(work_dir / 'rank0.pth', weights_only=True)
    rank1 = torch.load(work_dir / 'rank1.pth', weights_only=True)
    assert rank0.keys() == rank1.keys() and len(rank0) > 10
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0,
                                   msg=f'ranks differ at {key}')

    from mmengine.config import Config

    from vitpose_mm.apis import init_pose_model
    cfg = Config.fromfile(work_dir / config.name)
    model = init_pose_model(cfg, str(work_dir / 'epoch_1.pth'),
                            allow_pickle=True, fast=False)
    loaded = model.state_dict()
    for key in rank0:
        torch.testing.assert_close(loaded[key], rank0[key], rtol=0, atol=0)
