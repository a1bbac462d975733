"""What ``train.py`` and ``test.py`` share: launcher options, the
visualisation options of mmpose's tools, CPU distributed setup; and how
``train.py`` builds its runner."""
import argparse
import os
from typing import List, Optional


def parse_with_launcher(parser: argparse.ArgumentParser,
                        argv: Optional[List[str]] = None
                        ) -> argparse.Namespace:
    """Add ``--launcher`` / ``--local_rank`` to ``parser`` and parse.

    ``LOCAL_RANK`` is set from ``--local_rank`` when the environment has
    none (``torch.distributed.launch`` passes the flag, torchrun the
    variable).
    """
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def add_visual_args(parser: argparse.ArgumentParser,
                    badcase: bool = False) -> None:
    """Add mmpose's ``--show-dir``, ``--show``, ``--wait-time``,
    ``--interval`` (and, for testing, ``--badcase``) to ``parser``."""
    parser.add_argument(
        '--show-dir',
        help='draw predictions into this folder (under the run\'s '
        'timestamped log folder), through mmpose\'s PoseVisualizationHook')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=1,
        help='seconds each shown image stays (with --show)')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='draw every n-th sample (with --show / --show-dir / --badcase)')
    if badcase:
        parser.add_argument(
            '--badcase',
            action='store_true',
            help='write the worst samples (by the head loss, or by the '
            'config\'s badcase metric) through mmpose\'s '
            'BadCaseAnalysisHook')


def apply_visual_args(cfg, args: argparse.Namespace) -> None:
    """Enable the config's visualisation / bad-case hooks as asked for by
    :func:`add_visual_args`' options (as mmpose's tools do).

    Raises:
        SystemExit: If the config lacks the hook the option needs, or names a
            bad-case metric type other than ``'loss'`` / ``'accuracy'``.
    """
    badcase = getattr(args, 'badcase', False)
    hooks = cfg.get('default_hooks') or {}
    if args.show_dir is not None or (args.show and not badcase):
        if 'visualization' not in hooks:
            raise SystemExit('vitpose_mm: --show / --show-dir need '
                             'default_hooks.visualization (mmpose\'s '
                             'PoseVisualizationHook) in the config')
        hook = hooks['visualization']
        hook.update(
            enable=True,
            show=args.show and not badcase,
            out_dir=args.show_dir,
            interval=args.interval)
        if args.show:
            hook['wait_time'] = args.wait_time
    if badcase:
        if 'badcase' not in hooks:
            raise SystemExit('vitpose_mm: --badcase needs '
                             'default_hooks.badcase (mmpose\'s '
                             'BadCaseAnalysisHook) in the config')
        hook = hooks['badcase']
        hook.update(enable=True, show=args.show, interval=args.interval)
        if args.show:
            hook['wait_time'] = args.wait_time
        metric_type = hook.get('metric_type', 'loss')
        if metric_type not in ('loss', 'accuracy'):
            raise SystemExit(f'vitpose_mm: default_hooks.badcase.metric_type '
                             f'must be loss or accuracy, not {metric_type!r}')
        if not hook.get('metric'):
            hook['metric'] = (
                cfg.model.head.loss
                if metric_type == 'loss' else cfg.test_evaluator)


def prepare_cpu_distributed(cfg, launcher: str) -> None:
    """Make a distributed run work without a GPU (gloo on the CPU).

    mmengine 0.10.7 assumes GPUs for distributed training: ``init_dist``
    calls ``torch.cuda.set_device`` and its DDP wrappers pass
    ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU model. On a
    machine without CUDA this opens the gloo process group itself (mmengine
    then skips ``init_dist``) and wraps the model with ``device_ids=None``,
    for ``Runner`` (``model_wrapper_cfg``) and for ``FlexibleRunner`` with
    ``DDPStrategy`` (``strategy.model_wrapper``). Nothing changes with a GPU
    or with ``launcher='none'``.

    Args:
        cfg (Config): The training config; updated in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Raises:
        SystemExit: A CPU run with a launcher other than ``pytorch``
            (torchrun), or with a strategy that needs GPUs (FSDP).
    """
    import torch
    import torch.distributed as dist
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise SystemExit(f'vitpose_mm: distributed training without a GPU '
                         f'needs torchrun and --launcher pytorch, not '
                         f'--launcher {launcher}')
    strategy = cfg.get('strategy') or {}
    if cfg.get('runner_type') and strategy.get('type') not in (
            None, 'DDPStrategy'):
        raise SystemExit(f"vitpose_mm: strategy {strategy.get('type')} "
                         'needs GPUs; on the CPU use DDPStrategy or the '
                         'plain Runner')
    if not dist.is_initialized():
        dist.init_process_group('gloo')
    env_cfg = dict(cfg.get('env_cfg') or {})
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = env_cfg
    wrapper = dict(type='MMDistributedDataParallel', broadcast_buffers=False)
    if cfg.get('runner_type'):
        # FlexibleRunner's default strategy when distributed is DDP.
        strategy = dict(strategy or dict(type='DDPStrategy'))
        strategy['model_wrapper'] = dict(
            strategy.get('model_wrapper') or wrapper, device_ids=None)
        cfg.strategy = strategy
    else:
        cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg') or wrapper,
                                     device_ids=None)


def build_runner(cfg):
    """``RUNNERS.build(cfg)`` for a config with ``runner_type`` (e.g.
    ``FlexibleRunner``, whose ``strategy`` ``Runner.from_cfg`` would
    ignore), else ``Runner.from_cfg(cfg)`` (as mmpose's train tool does;
    the test tool always uses the plain Runner)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
