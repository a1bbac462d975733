"""``precision='auto'``: the precision of the fast path chosen for this
machine by measurement (:mod:`vitpose_runtime.precision`: the CPU's flags,
the speed measured per CPU class, the 99th-percentile keypoint shift
against fp32 on the main job's model, at most 0.5 px).
"""
from typing import Tuple

import torch

from .kernels import PRECISIONS

#: What ``precision`` arguments take besides :data:`PRECISIONS`.
AUTO = 'auto'


def auto_precision(device='cpu') -> Tuple[str, str]:
    """(precision, why) of the PyTorch fast path on ``device``.

    On the CPU: :func:`vitpose_runtime.precision.choose_precision` among
    :data:`PRECISIONS` (bf16 on CPUs with AVX512-BF16 / AMX, fp32 on
    AVX2-only CPUs, where torch's int8 is faster but moves keypoints more
    than 0.5 px). On a GPU: fp32, since no GPU precision has been measured.

    Returns:
        tuple: The precision and a one-line reason.
    """
    from vitpose_runtime.precision import choose_precision
    device = torch.device(device)
    if device.type != 'cpu':
        return 'fp32', (f'{device.type}: no precision measured on this '
                        'device yet, fp32')
    return choose_precision('torch', list(PRECISIONS))
