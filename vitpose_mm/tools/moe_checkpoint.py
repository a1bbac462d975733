"""Split, merge and initialise ViTPose+ (MoE) checkpoints.

Usage::

    # one dataset's plain ViTPose out of a ViTPose+ checkpoint
    python -m vitpose_mm.tools.moe_checkpoint split SRC DST \\
        --dataset coco|INDEX [--datasets coco,aic,...] [--to LAYOUT]

    # plain ViTPose checkpoints (one per dataset, in expert order) -> ViTPose+
    python -m vitpose_mm.tools.moe_checkpoint merge DST SRC [SRC ...] \\
        --datasets coco,aic,... --part-features 192 \\
        [--shared-from NAME|INDEX] [--strict] [--to LAYOUT]

    # experts from a dense (e.g. MAE) checkpoint, the ViTPose++ init
    python -m vitpose_mm.tools.moe_checkpoint init-experts SRC DST \\
        --part-features 192 [--num-expert 6] [--to LAYOUT]

Inputs may be in any readable layout (detected; ``--from`` overrides);
outputs are in our layout unless ``--to`` says otherwise. ``--datasets``
names the datasets in expert order; without it an original ViTPose+
checkpoint's heads are named as the released ones
(:data:`~vitpose_mm.checkpoint.experts.RELEASED_DATASETS`). The rules are
in :mod:`vitpose_mm.checkpoint.moe`.
Errors are one line on stderr and exit code 1; warnings (e.g. merged
inputs whose shared backbone differs) are one line each.
"""
import argparse
import os
import re
import sys
import warnings
from typing import List, Optional, Union

from vitpose_mm.checkpoint import (LAYOUTS, RELEASED_DATASETS, TARGETS,
                                   convert_state_dict, detect_layout,
                                   expert_config, init_experts,
                                   load_state_dict_file, merge_experts,
                                   save_state_dict_file, split_experts)
from vitpose_mm.checkpoint.moe import expert_of
from vitpose_mm.engine.atomic_files import check_output

PROG = 'moe_checkpoint'


def _dataset(text: str) -> Union[int, str]:
    """A dataset given as an expert index (digits) or a name."""
    return int(text) if re.fullmatch(r'-?\d+', text) else text


def _names(text: str) -> List[str]:
    names = [n.strip() for n in text.split(',')]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f'expected comma-separated names, got {text!r}')
    return names


def _positive(text: str) -> int:
    if not re.fullmatch(r'\d+', text) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f'expected a positive integer, got {text!r}')
    return int(text)


def _common(parser: argparse.ArgumentParser, read: bool = True) -> None:
    parser.add_argument(
        '--to',
        default='vitpose_mm',
        choices=TARGETS,
        help='layout to write (default: vitpose_mm)')
    if read:
        parser.add_argument(
            '--from',
            dest='src_layout',
            choices=LAYOUTS,
            help='layout of the input (default: detected)')
    parser.add_argument(
        '--unsafe-pickle',
        action='store_true',
        help='allow torch.load(weights_only=False) for inputs that need it; '
        'only for trusted files')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Split a ViTPose+ checkpoint into plain ViTPose ones, '
        'merge those back, or initialise ViTPose+ experts from a dense '
        'checkpoint. Run a command with -h for its options.',
        epilog='example: %(prog)s split vitpose+_base.pth coco.pth '
        '--dataset coco')
    sub = parser.add_subparsers(dest='command', required=True)

    split = sub.add_parser(
        'split',
        help='one dataset of a ViTPose+ checkpoint as a plain ViTPose',
        description='Write the plain ViTPose checkpoint of one dataset: '
        'each fc2 = [shared fc2; its expert], the dataset\'s head as the '
        'head, no other experts or heads.')
    split.add_argument(
        'src', metavar='SRC', help='ViTPose+ checkpoint to read')
    split.add_argument(
        'dst', metavar='DST', help='file to write (.pth/.safetensors)')
    split.add_argument(
        '--dataset',
        type=_dataset,
        required=True,
        metavar='DATASET',
        help='dataset name (e.g. coco) or expert index (e.g. 0)')
    split.add_argument(
        '--datasets',
        type=_names,
        metavar='NAMES',
        help='the datasets in expert order, comma-separated (default for '
        'an original checkpoint or six experts: '
        f'{",".join(RELEASED_DATASETS)})')
    _common(split)

    merge = sub.add_parser(
        'merge',
        help='plain ViTPose checkpoints, one per dataset, into a ViTPose+',
        description='Expert i = the last PART_FEATURES rows of input i\'s '
        'fc2; input i\'s head becomes the head of dataset i. The rest of '
        'the backbone is shared: if the inputs differ there, it is taken '
        'from --shared-from (with a warning, or an error with --strict).')
    merge.add_argument(
        'dst', metavar='DST', help='file to write (.pth/.safetensors)')
    merge.add_argument(
        'srcs',
        nargs='+',
        metavar='SRC',
        help='plain checkpoints, in '
        'expert order')
    merge.add_argument(
        '--datasets',
        type=_names,
        required=True,
        metavar='NAMES',
        help='dataset names of the inputs, comma-separated, e.g. '
        f'{",".join(RELEASED_DATASETS)}')
    merge.add_argument(
        '--part-features',
        type=_positive,
        required=True,
        metavar='P',
        help='rows of each expert (ViTPose+-S/B/L/H: 96/192/256/320)')
    merge.add_argument(
        '--shared-from',
        type=_dataset,
        default=0,
        metavar='DATASET',
        help='input (name or index) whose shared backbone is kept '
        '(default: the first)')
    merge.add_argument(
        '--strict',
        action='store_true',
        help='refuse inputs whose shared backbone differs')
    _common(merge, read=False)

    init = sub.add_parser(
        'init-experts',
        help='ViTPose+ backbone weights from a dense (e.g. MAE) checkpoint',
        description='Shared fc2 = the first C - PART_FEATURES rows of each '
        'dense fc2, every expert = its last PART_FEATURES rows, so the '
        'ViTPose+ backbone equals the dense one for every dataset. Heads '
        'are dropped.')
    init.add_argument(
        'src',
        metavar='SRC',
        help='dense checkpoint to read '
        '(any layout, MAE included)')
    init.add_argument(
        'dst', metavar='DST', help='file to write (.pth/.safetensors)')
    init.add_argument(
        '--part-features',
        type=_positive,
        required=True,
        metavar='P',
        help='rows of each expert (ViTPose+-S/B/L/H: 96/192/256/320)')
    init.add_argument(
        '--num-expert',
        type=_positive,
        metavar='E',
        default=len(RELEASED_DATASETS),
        help=f'experts per FFN (default: {len(RELEASED_DATASETS)})')
    _common(init)
    return parser


def _load(path: str, args: argparse.Namespace, layout: Optional[str]):
    """(state dict as stored, its layout) of a file."""
    state = load_state_dict_file(path, allow_pickle=args.unsafe_pickle)
    return state, layout or detect_layout(state)


def _read(path: str, args: argparse.Namespace, layout: Optional[str]):
    """(our-layout state dict, source layout) of a plain or dense file; an
    original file keeps its one ``keypoint_head`` as ``head``."""
    state, src = _load(path, args, layout)
    return convert_state_dict(state, src=src), src


def _write(state,
           args: argparse.Namespace,
           meta: dict,
           head_names: Optional[List[str]] = None) -> int:
    out = convert_state_dict(
        state, to=args.to, src='vitpose_mm', head_names=head_names)
    from vitpose_mm import __version__
    meta = dict(meta, layout=args.to, converter=f'vitpose_mm {__version__}')
    save_state_dict_file(out, args.dst, meta, wrap=args.to != 'hf')
    return len(out)


def _split(args: argparse.Namespace) -> str:
    state, src = _load(args.src, args, args.src_layout)
    names = args.datasets
    if names is None and src == 'original':
        names = list(RELEASED_DATASETS)
    ours = convert_state_dict(state, src=src, head_names=names)
    plain = split_experts(ours, args.dataset, names)
    index, name = expert_of(ours, args.dataset, names)
    count = expert_config(ours)['num_expert']
    label = f'{name} (expert {index} of {count})' if name else \
        f'expert {index} of {count}'
    n = _write(
        plain, args,
        dict(
            source=os.path.basename(args.src),
            source_layout=src,
            dataset=name or index))
    return f'{label} of {args.src} ({src}) -> {args.dst} ({args.to}), ' \
        f'{n} tensors'


def _merge(args: argparse.Namespace) -> str:
    if len(args.datasets) != len(args.srcs):
        raise ValueError(f'{len(args.srcs)} inputs but {len(args.datasets)} '
                         f'names in --datasets {args.datasets}')
    check_output(args.dst, args.srcs)
    states = [_read(path, args, None)[0] for path in args.srcs]
    ours = merge_experts(
        states,
        args.datasets,
        args.part_features,
        shared_from=args.shared_from,
        strict=args.strict)
    n = _write(
        ours,
        args,
        dict(
            sources=','.join(map(os.path.basename, args.srcs)),
            datasets=','.join(args.datasets)),
        head_names=args.datasets)
    return f'{len(states)} checkpoints -> {args.dst} ({args.to}), ' \
        f'{len(states)} experts of {args.part_features} rows, {n} tensors'


def _init(args: argparse.Namespace) -> str:
    dense, src = _read(args.src, args, args.src_layout)
    ours = init_experts(dense, args.num_expert, args.part_features)
    n = _write(ours, args,
               dict(source=os.path.basename(args.src), source_layout=src))
    return f'{args.src} ({src}) -> {args.dst} ({args.to}), ' \
        f'{args.num_expert} experts of {args.part_features} rows, ' \
        f'{n} tensors'


COMMANDS = {'split': _split, 'merge': _merge, 'init-experts': _init}


def main(argv: Optional[List[str]] = None) -> int:
    """CLI entry; returns the exit code (0 ok, 1 refused or bad input)."""
    args = build_parser().parse_args(argv)
    try:
        check_output(args.dst, [args.src] if hasattr(args, 'src') else [])
    except ValueError as err:
        print(f'{PROG}: error: {err}', file=sys.stderr)
        return 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', UserWarning)
        try:
            summary = COMMANDS[args.command](args)
        except (ValueError, OSError) as err:
            code, line = 1, f'{PROG}: error: {" ".join(str(err).split())}'
        else:
            code, line = 0, summary
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            message = ' '.join(str(warning.message).split())
            print(f'{PROG}: warning: {message}', file=sys.stderr)
    print(line, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == '__main__':
    sys.exit(main())
