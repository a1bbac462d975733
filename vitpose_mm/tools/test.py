"""Evaluate a ViTPose checkpoint with mmengine's Runner (mmpose's CLI).

Examples::

    python -m vitpose_mm.tools.test CONFIG CHECKPOINT [--out metrics.json]
    python -m vitpose_mm.tools.test CONFIG CHECKPOINT \\
        --cfg-options data_root=DIR/ --dump preds.pkl
    mim test vitpose_mm CONFIG --checkpoint CHECKPOINT
    vitpose-mm-test CONFIG CHECKPOINT --show-dir vis/ [--badcase]

The checkpoint may be in any layout :mod:`vitpose_mm.checkpoint` reads
(ours, the original ViTPose, mmpose's, Hugging Face's); it is checked
against the config's model and loaded strictly (mmengine's own loading is
not strict and only logs a mismatch). It is read without unpickling code:
the Python objects of an mmengine training checkpoint (message hub, numpy
arrays) are on the allow-list of :mod:`vitpose_mm.checkpoint.safe_globals`;
anything else needs ``--unsafe-pickle``.

The metrics (``coco/AP`` ...) are logged by the Runner; ``--out`` also
writes them to a file, ``--dump`` the raw predictions to a pickle.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

import mmengine
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from torch import nn

from vitpose_mm.checkpoint import load_state_dict_file
from vitpose_mm.checkpoint.hf_folder import check_folder_fits
from vitpose_mm.engine.atomic_files import WriteError, write_atomically
from vitpose_mm.tools.data_root import check_data_files, load_run_config
from vitpose_mm.tools.validate_data import validate_datasets
from vitpose_mm.tools.launcher_args import (add_visual_args,
                                            apply_visual_args,
                                            parse_with_launcher,
                                            prepare_cpu_distributed)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv``, default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a ViTPose model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the logs')
    parser.add_argument(
        '--out', help='write the metrics to this file (.json, .yaml, .pkl)')
    parser.add_argument(
        '--dump', help='dump the predictions to this .pkl file')
    add_visual_args(parser, badcase=True)
    parser.add_argument(
        '--skip-invalid',
        action='store_true',
        help='drop (and count) annotations that fail the check of '
        'vitpose_mm.tools.validate_data instead of stopping')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, as key=value (e.g. data_root=PATH/)')
    parser.add_argument(
        '--unsafe-pickle',
        action='store_true',
        help='read a checkpoint that holds Python objects outside the safe '
        'types (training checkpoints of mmengine do not need it); '
        'unpickling can run code from the file, so only for files you '
        'trust')
    return parse_with_launcher(parser, argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options (but ``--cfg-options``) to ``cfg``.

    Raises:
        SystemExit: If the checkpoint is not there, or ``--out`` or
            ``--dump`` has a file type that cannot be written, or a
            visualisation option meets a config without its hook.
    """
    if not osp.isfile(args.checkpoint):
        raise SystemExit(
            f'vitpose_mm: checkpoint not found: {args.checkpoint!r}')
    cfg.launcher = args.launcher
    cfg.load_from = None  # loaded strictly by load_weights
    # work_dir: command line > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    apply_visual_args(cfg, args)
    if args.out is not None and not args.out.endswith(
        ('.json', '.yaml', '.yml', '.pkl', '.pickle')):
        raise SystemExit(f'vitpose_mm: --out must name a .json, .yaml or '
                         f'.pkl file, got {args.out!r}')
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'vitpose_mm: --dump must name a .pkl file, '
                             f'got {args.dump!r}')
        evaluator = cfg.test_evaluator
        if not isinstance(evaluator, (list, tuple)):
            evaluator = [evaluator]
        cfg.test_evaluator = [
            *evaluator,
            dict(type='DumpResults', out_file_path=args.dump)
        ]
    return cfg


def load_weights(model: nn.Module,
                 checkpoint: str,
                 allow_pickle: bool = False) -> None:
    """Load ``checkpoint`` (any ViTPose layout) into ``model`` strictly.

    Raises:
        SystemExit: One line if the file cannot be read without
            ``allow_pickle`` or does not fit the model.
    """
    if is_model_wrapper(model):
        model = model.module
    try:
        state = load_state_dict_file(checkpoint, allow_pickle)
    except ValueError as err:  # also UnsafeCheckpointError: says what to do
        raise SystemExit(f'vitpose_mm: {err}') from None
    try:
        check_folder_fits(checkpoint, model)
        # converted and checked by the model's load pre-hook
        # (vitpose_mm.models.load_hook: fit_state_dict)
        model.load_state_dict(state, strict=True)
    except ValueError as err:
        raise SystemExit(
            f'vitpose_mm: checkpoint {checkpoint}: {err}') from None


class SaveMetricsHook(Hook):
    """Write the test metrics to ``out_file`` (format from its suffix),
    atomically (:func:`~vitpose_mm.engine.atomic_files.write_atomically`).
    """

    def __init__(self, out_file: str) -> None:
        self.out_file = out_file

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        if metrics is not None:
            fmt = osp.splitext(self.out_file)[1].lstrip('.').lower()
            write_atomically(self.out_file,
                             mmengine.dump(metrics, file_format=fmt))


def main(argv: Optional[List[str]] = None) -> None:
    """Build the Runner from the config and run the test loop."""
    args = parse_args(argv)
    cfg = merge_args(load_run_config(args.config, args.cfg_options), args)
    check_data_files(cfg, ('test_dataloader', 'test_evaluator'))
    validate_datasets(cfg, ('test_dataloader', 'test_evaluator'),
                      args.skip_invalid)
    # Evaluation runs on the plain Runner, also for FlexibleRunner (FSDP)
    # training configs: their checkpoints hold full state dicts, and the
    # weights are loaded into the built model before the test loop.
    for key in ('runner_type', 'strategy'):
        cfg.pop(key, None)
    prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    load_weights(runner.model, args.checkpoint, args.unsafe_pickle)
    if args.out:
        runner.register_hook(SaveMetricsHook(args.out), 'LOWEST')
    try:
        runner.test()
    except WriteError as err:  # --out on a full disk
        raise SystemExit(f'vitpose_mm: {err}') from None


if __name__ == '__main__':
    main()
