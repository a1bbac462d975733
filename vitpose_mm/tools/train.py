"""Train a ViTPose model with mmengine's Runner (mmpose's CLI).

Examples::

    python -m vitpose_mm.tools.train CONFIG [--work-dir DIR]
    python -m vitpose_mm.tools.train CONFIG --cfg-options data_root=DIR/
    mim train vitpose_mm CONFIG --gpus 0
    vitpose-mm-train CONFIG --no-validate --auto-scale-lr
    torchrun --nproc_per_node 2 -m vitpose_mm.tools.train CONFIG \
        --launcher pytorch

A config that sets ``runner_type`` (e.g. ``'FlexibleRunner'`` with an
FSDP or DDP ``strategy``) is built through mmengine's ``RUNNERS``
registry, as mmpose's ``tools/train.py`` does; others by
``Runner.from_cfg``. Without a GPU, ``--launcher pytorch`` trains on the
CPU with gloo (:func:`~vitpose_mm.tools.launcher_args.
prepare_cpu_distributed`).

``--cfg-options data_root=...`` moves every dataset and metric path built
from the config's ``data_root`` (see :mod:`vitpose_mm.tools.data_root`).
Missing data or config files end the run with one line naming them.

mmengine reads the checkpoints of ``--resume`` and ``load_from`` with
``torch.load(weights_only=True)`` (torch >= 2.6); importing ``vitpose_mm``
allows the types an mmengine training checkpoint holds (message hub, numpy
arrays: :mod:`vitpose_mm.checkpoint.safe_globals`), so training checkpoints
of this plugin and of stock mmpose load without unpickling code. Any other
object is refused in one line; ``--unsafe-pickle`` unpickles it, for files
you trust.

``--resume`` without a path resumes from the checkpoint ``last_checkpoint``
names; if that one is missing or torn (a kill while mmengine's own
``CheckpointHook`` saved it; the plugin's ``AtomicCheckpointHook`` never
leaves one), it warns and resumes from the newest complete
``epoch_*.pth`` / ``iter_*.pth`` of the work directory. An explicit
``--resume FILE`` that is torn is refused in one line, and so is one
that does not fit the config's model (another model size: the key and
both shapes). A run killed during validation validates that checkpoint
first when resumed (:class:`~vitpose_mm.engine.hooks.AtomicCheckpointHook`).
A checkpoint that cannot be written (full disk) ends the run in one line,
the previous checkpoint intact and no ``.tmp`` file left.

Fine-tuning: ``load_from`` of a checkpoint with another keypoint count is
refused in one line that names the option; ``fine_tune=dict(...)`` in the
config (or ``--fine-tune``, which adds ``fine_tune=dict()`` when the config
has none) adds :class:`~vitpose_mm.engine.hooks.FineTuneHook` with those
arguments: the final layer is re-initialised (``keypoint_map`` carries
shared keypoints' rows over), a new ViTPose+ dataset gets its head and
expert (docs/finetune.md).
"""
import argparse
import glob
import os
import os.path as osp
import pickle
import re
import sys
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction

from vitpose_mm.checkpoint.io import checkpoint_problem, weights_only_detail
from vitpose_mm.models.load_hook import CheckpointMismatch
from vitpose_mm.engine.atomic_files import WriteError
from vitpose_mm.tools.check_metainfo import check_metainfo
from vitpose_mm.tools.data_root import check_data_files, load_run_config
from vitpose_mm.tools.validate_data import validate_datasets
from vitpose_mm.tools.launcher_args import (add_visual_args,
                                            apply_visual_args, build_runner,
                                            parse_with_launcher,
                                            prepare_cpu_distributed)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description='Train a ViTPose model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, given without a path, from '
        'the latest checkpoint in the work directory')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        'the config\'s auto_scale_lr.base_batch_size (linear scaling rule)')
    add_visual_args(parser)
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (needs a GPU)')
    parser.add_argument(
        '--unsafe-pickle',
        action='store_true',
        help='let mmengine unpickle objects outside the safe types in the '
        'checkpoint of --resume / load_from (training checkpoints of '
        'mmengine do not need it); unpickling can run code from the file, '
        'so only for files you trust')
    parser.add_argument(
        '--fine-tune',
        action='store_true',
        help='let load_from start a fine-tuning run: what cannot fit (the '
        "head's final layer of another keypoint count) is re-initialised "
        "and listed; the config's fine_tune=dict(keypoint_map=..., "
        'new_dataset=..., train_only=...) says more (docs/finetune.md)')
    parser.add_argument(
        '--skip-invalid',
        action='store_true',
        help='drop (and count) annotations that fail the check of '
        'vitpose_mm.tools.validate_data instead of stopping')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, as key=value (e.g. data_root=PATH/ '
        'train_cfg.max_epochs=5); lists as key="[a,b]"')
    return parse_with_launcher(parser, argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options (but ``--cfg-options``) to ``cfg``.

    Raises:
        SystemExit: If ``--amp`` is asked for without a GPU or with an
            optimizer wrapper that cannot be made mixed-precision, if
            the ``--resume`` checkpoint is not there, if
            ``--auto-scale-lr`` meets a config without
            ``auto_scale_lr.base_batch_size``, or if a visualisation option
            meets a config without its hook.
    """
    cfg.launcher = args.launcher
    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('vitpose_mm: --amp needs a CUDA GPU; none is '
                             'available')
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise SystemExit(f'vitpose_mm: --amp cannot replace the optimizer '
                             f'wrapper type {wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.auto_scale_lr:
        if not (cfg.get('auto_scale_lr') or {}).get('base_batch_size'):
            raise SystemExit('vitpose_mm: --auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    apply_visual_args(cfg, args)
    apply_fine_tune(cfg, args.fine_tune)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = find_resumable(cfg.work_dir)
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'vitpose_mm: checkpoint to resume from not '
                             f'found: {args.resume!r}')
        problem = checkpoint_problem(args.resume)
        if problem:
            raise SystemExit(f'vitpose_mm: cannot resume from '
                             f'{args.resume}: {problem}')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def apply_fine_tune(cfg: Config, flag: bool = False) -> Config:
    """Turn the config's ``fine_tune`` dict (``{}`` for ``--fine-tune``
    when it has none) into a :class:`FineTuneHook` in ``custom_hooks``.

    Raises:
        SystemExit: ``fine_tune`` that is not a dict, or one without
            ``load_from`` to fine-tune from.
    """
    options = cfg.get('fine_tune')
    if options is None and not flag:
        return cfg
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise SystemExit(f'vitpose_mm: fine_tune must be a dict of '
                         f'FineTuneHook arguments, got {options!r}')
    if not cfg.get('load_from'):
        raise SystemExit('vitpose_mm: fine_tune needs load_from, the '
                         'checkpoint to fine-tune from')
    from vitpose_mm.engine.hooks import FineTuneHook
    try:
        FineTuneHook(**options)
    except (TypeError, ValueError) as err:
        raise SystemExit(f'vitpose_mm: fine_tune={options!r}: {err}') from None
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == 'FineTuneHook' for h in hooks):
        hooks.append(dict(type='FineTuneHook', **options))
    cfg.custom_hooks = hooks
    return cfg


def find_resumable(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir``: the one
    ``last_checkpoint`` names if it is complete, else (with a warning on
    stderr) the newest complete ``epoch_N.pth`` / ``iter_N.pth``; None
    when there is none (training starts afresh, as in mmengine)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip() or None
    if named is not None:
        problem = checkpoint_problem(named)
        if problem is None:
            return named
        print(f'vitpose_mm: warning: last_checkpoint names {named}, which '
              f'is {problem}; looking for an older complete checkpoint',
              file=sys.stderr)
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if match and path != named:
            found.append((int(match.group(2)), path))
    for _, path in sorted(found, reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            if named is not None:
                print(f'vitpose_mm: warning: resuming from {path}',
                      file=sys.stderr)
            return path
        print(f'vitpose_mm: warning: skipping {path}: {problem}',
              file=sys.stderr)
    return None


def main(argv: Optional[List[str]] = None) -> None:
    """Build the Runner from the config and train."""
    args = parse_args(argv)
    cfg = merge_args(load_run_config(args.config, args.cfg_options), args)
    sections = ('train_dataloader', )
    if cfg.get('val_cfg') and cfg.get('val_dataloader'):
        sections += ('val_dataloader', 'val_evaluator')
    check_data_files(cfg, sections)
    check_metainfo(cfg, sections)
    validate_datasets(cfg, sections, args.skip_invalid)
    if args.unsafe_pickle:
        # mmengine calls torch.load without weights_only; this makes torch
        # default to False for such calls (explicit True stays True).
        os.environ['TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'] = '1'
    prepare_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    action = 'resume' if cfg.get('resume') else 'load'
    try:
        runner.train()
    except CheckpointMismatch as err:
        raise SystemExit(f'vitpose_mm: cannot {action} from '
                         f'{cfg.load_from}: {err}') from None
    except WriteError as err:
        raise SystemExit(f'vitpose_mm: {err}') from None
    except pickle.UnpicklingError as err:
        if 'weights_only' not in str(err):
            raise
        source = cfg.load_from or f'the latest in {cfg.work_dir}'
        detail = weights_only_detail(err)
        raise SystemExit(
            f'vitpose_mm: the checkpoint to {action} from ({source}) holds '
            'Python objects outside the safe types '
            f'(vitpose_mm.checkpoint.safe_globals): {detail}; pass '
            '--unsafe-pickle only if you trust it') from None


if __name__ == '__main__':
    main()
