"""``vitpose://NAME`` in mmengine's ``load_checkpoint``.

mmengine picks a checkpoint loader by matching the path against registered
prefixes (``re.match``). :func:`register_loaders` adds one, our own
explicit scheme and nothing else (no plain URL, no local path: loading
anything else in the process is unchanged), routed through
:func:`~.download.fetch_weights` (one download, hash check, one conversion,
cached; offline afterwards).

Nothing registers it at import (issue 21: importing vitpose_mm changes
nothing in the process). It is registered when one of our backbones is
built (:func:`vitpose_mm.models.load_hook.prepare_loading`), which covers
``load_from='vitpose://NAME'`` (the Runner builds the model first) and
``mmpose.apis.init_model(CFG, 'vitpose://NAME')``; mmengine's inferencers
(``MMPoseInferencer(pose2d=CFG, pose2d_weights='vitpose://NAME')``) read
the weights before they build the model, so call :func:`register_loaders`
first there.
"""
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .download import fetch_weights
from .zoo import get_model

#: The explicit scheme of a weights name in mmengine's load_checkpoint.
NAME_SCHEME = 'vitpose://'


def load_from_name(filename: str, map_location=None) -> dict:
    """mmengine loader of ``vitpose://NAME``: the cached converted file
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
    """Register :func:`load_from_name` for the ``vitpose://`` prefix
    with mmengine. Idempotent."""
    if NAME_SCHEME not in CheckpointLoader._schemes:
        CheckpointLoader.register_scheme(NAME_SCHEME, load_from_name)
