"""``.safetensors`` files and ``save_pretrained`` folders in mmengine's
``load_checkpoint``.

mmengine picks a checkpoint loader by matching the path against registered
prefixes (``re.match``); a local path goes to ``torch.load``, which cannot
read a safetensors file or a folder. This module registers one more
pattern, :data:`LOCAL_HF_PATTERN`, for local paths that end in
``.safetensors`` or whose last component has no suffix (a folder), read by
:func:`load_local_hf`. So ``mmpose.apis.init_model``, ``MMPoseInferencer``
and ``load_from`` take transformers' files; the layout is converted and
checked while the weights load (:mod:`.load_hook`).
"""
import os
from collections import OrderedDict

from mmengine.runner.checkpoint import CheckpointLoader, load_from_local

from .hf_folder import METADATA_KEY, is_hf_folder, read_hf_folder

#: Local (no ``scheme://``) paths ending in ``.safetensors`` or in a
#: component without a dot (``save_pretrained`` folders).
LOCAL_HF_PATTERN = r'(?!\w+://)(?=.*(?:\.safetensors|(?:^|/)[^/.]+/?)$)'


def load_local_hf(filename: str, map_location=None) -> dict:
    """Read a ``.safetensors`` file or a ``save_pretrained`` folder (as a
    flat state dict); any other path as mmengine would (``torch.load``).

    Raises:
        FileNotFoundError: If nothing is at ``filename``.
        ValueError: A folder whose ``config.json`` our ViTPose cannot
            represent (:func:`.hf_folder.check_hf_config`). Whether it
            describes the model it is loaded into is checked by the load
            hook (:func:`.hf_folder.check_config_fits`).
    """
    filename = os.path.expanduser(filename)
    if is_hf_folder(filename):
        # config.json travels in the state dict's ``_metadata`` (which
        # mmengine and torch hand to the root module's load hooks), so
        # that the load hook compares it with the model
        state, config = read_hf_folder(filename)
        state = OrderedDict(state)
        state._metadata = OrderedDict({
            '': {
                METADATA_KEY: (config, os.path.join(filename, 'config.json'))
            }
        })
        return state
    if filename.endswith('.safetensors') and os.path.isfile(filename):
        from safetensors.torch import load_file
        return load_file(filename, device=str(map_location or 'cpu'))
    return load_from_local(filename, map_location)


def register_loader() -> None:
    """Register :func:`load_local_hf` with mmengine. Idempotent."""
    if LOCAL_HF_PATTERN not in CheckpointLoader._schemes:
        CheckpointLoader.register_scheme(LOCAL_HF_PATTERN, load_local_hf)
