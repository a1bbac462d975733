"""CPU distributed setup of the train / test tools (no processes started:
the process group counts as open already; the two-process run is
tests/tools/test_distributed.py)."""
from unittest import mock

import pytest
from mmengine.config import Config

from vitpose_mm.tools.launcher_args import (build_runner,
                                            prepare_cpu_distributed)


@pytest.fixture
def cpu_only():
    with mock.patch('torch.cuda.is_available', return_value=False), \
            mock.patch('torch.distributed.is_initialized',
                       return_value=True):
        yield


def prepared(launcher='pytorch', **cfg):
    cfg = Config(dict(cfg))
    prepare_cpu_distributed(cfg, launcher)
    return cfg


def test_runner_gets_gloo_and_a_cpu_ddp_wrapper(cpu_only):
    cfg = prepared(env_cfg=dict(dist_cfg=dict(backend='nccl'), seed=1))
    assert cfg.env_cfg == dict(dist_cfg=dict(backend='gloo'), seed=1)
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        device_ids=None)
    # A configured wrapper keeps its options.
    cfg = prepared(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                          find_unused_parameters=True))
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    assert cfg.model_wrapper_cfg.device_ids is None


def test_flexible_runner_gets_a_cpu_ddp_strategy(cpu_only):
    cfg = prepared(runner_type='FlexibleRunner')
    assert cfg.strategy.type == 'DDPStrategy'
    assert cfg.strategy.model_wrapper.device_ids is None
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.parametrize('launcher,cfg,message', [
    ('slurm', {}, 'needs torchrun and --launcher pytorch, not --launcher '
     'slurm'),
    ('pytorch', dict(runner_type='FlexibleRunner',
                     strategy=dict(type='FSDPStrategy')),
     'strategy FSDPStrategy needs GPUs'),
])
def test_what_cannot_run_on_the_cpu_is_named(cpu_only, launcher, cfg,
                                             message):
    with pytest.raises(SystemExit, match=message):
        prepared(launcher, **cfg)


def test_nothing_changes_without_a_launcher_or_with_a_gpu():
    assert prepared('none').to_dict() == {}
    with mock.patch('torch.cuda.is_available', return_value=True):
        cfg = prepared('pytorch', runner_type='FlexibleRunner')
    assert cfg.to_dict() == dict(runner_type='FlexibleRunner')


def test_runner_type_builds_through_the_registry():
    with mock.patch('mmengine.registry.RUNNERS.build') as build, \
            mock.patch('mmengine.runner.Runner.from_cfg') as from_cfg:
        build_runner(Config(dict(runner_type='FlexibleRunner')))
        build_runner(Config(dict(model=dict())))
    build.assert_called_once()
    from_cfg.assert_called_once()
