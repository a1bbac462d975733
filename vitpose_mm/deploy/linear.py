"""A frozen ``nn.Linear`` for inference, optionally fused with GELU.

With the ``'onednn'`` kernel the weight is reordered once into oneDNN's
blocked layout and the product runs through
``torch.ops.mkldnn._linear_pointwise``, which also applies an exact (erf)
GELU in the same pass over the output. With ``'eager'`` it is
``F.linear`` (then ``F.gelu``) on weights stored in the compute dtype.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FastLinear(nn.Module):
    """Inference-only replacement of an ``nn.Linear`` (+ exact GELU).

    The input is cast to ``dtype``; the output is in ``dtype``. A
    oneDNN-packed weight is an opaque tensor held as a plain attribute: it
    is not in ``state_dict()``, does not follow ``.to()``, and the module
    cannot be deep-copied. Load weights before converting.

    Args:
        linear (nn.Linear): The layer to copy (not modified).
        dtype (torch.dtype): Compute dtype (float32, bfloat16, float16).
        kernel (str): ``'onednn'`` (CPU) or ``'eager'``.
        gelu (bool): Apply exact GELU to the output, as ``nn.GELU()``.
        batch_hint (int, optional): Typical number of input rows (tokens in
            a batch), which oneDNN may use to choose a weight layout.

    Raises:
        ValueError: On an unknown kernel.
    """

    def __init__(self,
                 linear: nn.Linear,
                 dtype: torch.dtype = torch.float32,
                 kernel: str = 'onednn',
                 gelu: bool = False,
                 batch_hint: Optional[int] = None) -> None:
        super().__init__()
        if kernel not in ('onednn', 'eager'):
            raise ValueError(f"kernel must be 'onednn' or 'eager', got "
                             f'{kernel!r}')
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.dtype = dtype
        self.kernel = kernel
        self.gelu = gelu
        weight = linear.weight.detach().to(dtype)
        bias = (None if linear.bias is None else
                linear.bias.detach().to(dtype))
        self.register_buffer('bias', bias, persistent=False)
        if kernel == 'onednn':
            if weight.device.type != 'cpu':
                raise ValueError('the onednn kernel runs on the CPU; this '
                                 f'layer is on {weight.device}')
            self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(
                weight.contiguous(), batch_hint)
            self.weight = None
        else:
            self.register_buffer('weight', weight, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features), in ``self.dtype``."""
        if x.dtype != self.dtype:
            x = x.to(self.dtype)
        if self.kernel == 'onednn':
            return torch.ops.mkldnn._linear_pointwise(
                x, self.packed_weight, self.bias,
                'gelu' if self.gelu else 'none', [],
                'none' if self.gelu else '')
        y = F.linear(x, self.weight, self.bias)
        return F.gelu(y) if self.gelu else y

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, '
                f'out_features={self.out_features}, dtype={self.dtype}, '
                f'kernel={self.kernel}, gelu={self.gelu}')
