"""Helpers shared by the distillers: frozen weights and the token bridge."""
import torch
from mmengine.logging import MMLogger
from torch import Tensor, nn


def freeze(*modules: nn.Module) -> None:
    """Eval mode and ``requires_grad=False`` for every parameter: no
    dropout or drop path, no gradient, no optimizer state (the optimizer
    constructors skip parameters that do not require gradients)."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


def load_pose_weights(model: nn.Module, checkpoint: str) -> None:
    """Load a pose model's weights strictly from a weights-only file.

    The file is read by :func:`vitpose_mm.checkpoint.load_state_dict_file`
    (``torch.load(weights_only=True)`` or safetensors), converted from any
    supported layout (ours, original ViTPose, mmpose 1.x, transformers) and
    checked by :func:`vitpose_mm.checkpoint.fit_state_dict` (exactly: the
    teacher may be any module with our keys, with or without the load
    pre-hook).

    Args:
        model (nn.Module): A module with our pose-model keys
            (``backbone.*``, ``head.*``).
        checkpoint (str): Path of the file. An mmengine training checkpoint
            needs unpickling and is refused: convert it first with
            ``python -m vitpose_mm.tools.convert_checkpoint SRC DST
            --unsafe-pickle``.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the weights do not fit ``model`` exactly (the message
            names the first mismatch).
    """
    from vitpose_mm.checkpoint import fit_state_dict, load_state_dict_file
    from ..load_hook import head_note
    state = load_state_dict_file(checkpoint)
    model.load_state_dict(
        fit_state_dict(model, state, head_note=head_note(model),
                       source=checkpoint).state, strict=True)
    MMLogger.get_current_instance().info(
        f'Loaded the frozen teacher weights from {checkpoint}')


def project_tokens(tokens: Tensor, dim: int, seed: int = 0) -> Tensor:
    """Map (1, K, Ct) teacher tokens to the student width ``dim``.

    The ViTPose paper (Sec. 3.4) concatenates the teacher's knowledge token
    to the student's tokens but its teacher / student pairs have different
    widths (ViTPose-L 1024 -> ViTPose-B 768) and it does not say how the
    token is resized. We use a **fixed** map: a semi-orthogonal matrix drawn
    from a seeded Gaussian (QR), then a scale that keeps the token's
    root-mean-square per channel. It is fixed because the paper freezes the
    token in the student stage: a learnable map (with or without bias) can
    reach any vector of the student width, which would make the "frozen"
    token a learnable one. Equal widths return the tokens unchanged.

    Args:
        tokens (Tensor): (1, K, Ct) tokens.
        dim (int): Student width Cs.
        seed (int): Seed of the random matrix (the same map every run).

    Returns:
        Tensor: (1, K, Cs), in the dtype of ``tokens``.
    """
    src = tokens.shape[-1]
    if src == dim:
        return tokens
    generator = torch.Generator().manual_seed(seed)
    gauss = torch.randn(max(src, dim), min(src, dim), generator=generator)
    basis, _ = torch.linalg.qr(gauss)  # orthonormal columns
    matrix = basis if src > dim else basis.T  # (Ct, Cs)
    out = tokens.float() @ matrix.to(tokens.device)
    rms_in = tokens.float().pow(2).mean(-1, keepdim=True).sqrt()
    rms_out = out.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
    return (out * rms_in / rms_out).to(tokens.dtype)
