"""``vitpose-mm://NAME`` in mmengine's ``load_checkpoint``.

mmengine picks a checkpoint loader by matching the path against registered
prefixes (``re.match``). :func:`register_loaders` adds one, our own
explicit scheme and nothing else (no plain URL, no local path: loading
anything else in the process is unchanged), routed through
:func:`~.download.fetch_weights` (one download, hash check, one conversion,
cached; offline afterwards). So ``load_from='vitpose-mm://NAME'``,
``mmpose.apis.init_model(CFG, 'vitpose-mm://NAME')`` and
``MMPoseInferencer(pose2d=CFG, pose2d_weights='vitpose-mm://NAME')`` get
the cached file in our layout.
"""
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .download import fetch_weights
from .zoo import get_model

NAME_SCHEME = 'vitpose-mm://'


def load_from_name(filename: str, map_location=None) -> dict:
    """mmengine loader of ``vitpose-mm://NAME``: the cached converted file
    (``{'state_dict': ..., 'meta': ...}``), fetched first if needed.

    Raises:
        WeightsError: Unknown name (with close names), a name without
            weights, or as :func:`~.download.fetch_weights`.
    """
    from vitpose_mm.checkpoint.safe_globals import allow_mmengine_checkpoints
    model = get_model(filename[len(NAME_SCHEME):])
    path = fetch_weights(model.weights, model.sha256, model.dataset)
    allow_mmengine_checkpoints()
    return torch.load(path, map_location=map_location or 'cpu',
                      weights_only=True)


def register_loaders() -> None:
    """Register :func:`load_from_name` for the ``vitpose-mm://`` prefix
    with mmengine. Idempotent."""
    if NAME_SCHEME not in CheckpointLoader._schemes:
        CheckpointLoader.register_scheme(NAME_SCHEME, load_from_name)
