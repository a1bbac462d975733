"""Convert a ViTPose checkpoint between layouts, optionally checking a config.

Usage::

    python -m vitpose_mm.tools.convert_checkpoint SRC DST \\
        [--config CFG] [--to vitpose_mm|original|mmpose|hf] \\
        [--from LAYOUT] [--unsafe-pickle]

The source layout is detected (``--from`` overrides). ``DST`` ending in
``.safetensors`` is a flat safetensors file; otherwise ``torch.save`` writes
``{'state_dict': ..., 'meta': {...}}`` for our, the original and the
mmpose layouts, and a bare state dict for ``hf`` (``pytorch_model.bin``
style). With ``--config`` the model of that mmengine config is built (for
its shapes only) and a checkpoint that does not fit it exactly is refused
with a one-line message and exit code 1, nothing written; so is a
transformers ``save_pretrained`` folder whose ``config.json`` disagrees
with the config's model (a field and both values). The config also
names the per-dataset heads of a ViTPose+ model: an original ViTPose+
checkpoint read without ``--config`` keeps only its first head.
"""
import argparse
import os
import sys
from typing import List, Optional

from vitpose_mm.checkpoint import (LAYOUTS, TARGETS, check_fits,
                                   convert_state_dict, detect_layout,
                                   load_state_dict_file, save_state_dict_file)
from vitpose_mm.checkpoint.hf_folder import check_folder_fits
from vitpose_mm.engine.atomic_files import check_output

PROG = 'convert_checkpoint'


def build_model_from_config(config: str):
    """Build ``cfg.model`` of an mmengine config, for its shapes only.

    Registers mmpose's modules and ours first, as a runner would. The model
    is built on the ``meta`` device (no memory, no random init) when its
    constructors allow it, else on the CPU.
    """
    import torch
    from mmengine.config import Config
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    import vitpose_mm  # noqa: F401  (registers our modules)
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config)
    try:
        with torch.device('meta'):
            return MODELS.build(cfg.model)
    except (NotImplementedError, RuntimeError):
        # A constructor that reads tensor values (e.g. ``.tolist()``)
        # cannot run on ``meta``.
        return MODELS.build(cfg.model)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Convert a ViTPose checkpoint between the '
        'vitpose_mm, original, mmpose and transformers (hf) layouts.')
    parser.add_argument('src', help='checkpoint to read (.pth/.safetensors)')
    parser.add_argument('dst', help='file to write (.pth/.safetensors)')
    parser.add_argument(
        '--config',
        help='mmengine config whose model the '
        'checkpoint must fit')
    parser.add_argument(
        '--to',
        default='vitpose_mm',
        choices=TARGETS,
        help='target layout (default: vitpose_mm)')
    parser.add_argument(
        '--from',
        dest='src_layout',
        choices=LAYOUTS,
        help='source layout (default: detected)')
    parser.add_argument(
        '--dataset',
        help='ViTPose+ with per-dataset heads: keep only this dataset\'s '
        'head (name such as coco, or expert index), as one-head layouts '
        '(hf) need')
    parser.add_argument(
        '--datasets',
        help='ViTPose+: comma-separated dataset names in expert order, '
        'when the heads are not the released six (e.g. coco,mpii,ap10k)')
    parser.add_argument(
        '--unsafe-pickle',
        action='store_true',
        help='allow torch.load(weights_only=False) for a '
        'file that needs it; only for trusted files')
    return parser.parse_args(argv)


def convert(args: argparse.Namespace) -> str:
    """Run one conversion; return a summary line.

    Raises:
        ValueError, OSError: On a bad file or a checkpoint that does not
            fit ``--config``.
    """
    check_output(args.dst, [args.src])
    state = load_state_dict_file(args.src, allow_pickle=args.unsafe_pickle)
    src = args.src_layout or detect_layout(state)
    if args.config:
        # The model also names the per-dataset heads of a ViTPose+ model.
        model = build_model_from_config(args.config)
        check_folder_fits(args.src, model)
        ours = check_fits(model, state, src)
    else:
        ours = convert_state_dict(state, src=src)
    dataset = args.dataset
    if dataset is not None and dataset.isdigit():
        dataset = int(dataset)
    names = args.datasets.split(',') if args.datasets else None
    out = convert_state_dict(ours, to=args.to, src='vitpose_mm',
                             dataset=dataset, head_names=names)
    from vitpose_mm import __version__
    meta = dict(
        source=os.path.basename(args.src),
        source_layout=src,
        layout=args.to,
        converter=f'vitpose_mm {__version__}')
    if args.config:
        meta['config'] = os.path.basename(args.config)
    save_state_dict_file(out, args.dst, meta, wrap=args.to != 'hf')
    return (f'{args.src} ({src}) -> {args.dst} ({args.to}), '
            f'{len(out)} tensors')


def main(argv: Optional[List[str]] = None) -> int:
    """CLI entry; returns the exit code (0 ok, 1 refused or bad input)."""
    args = parse_args(argv)
    try:
        print(convert(args))
    except (ValueError, OSError) as err:
        message = ' '.join(str(err).split())
        print(f'{PROG}: error: {message}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
