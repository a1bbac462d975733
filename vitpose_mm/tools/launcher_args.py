"""The launcher options that ``train.py`` and ``test.py`` share."""
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
