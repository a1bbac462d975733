"""Layout detection and strict loading inside ``load_state_dict``.

Stock clients load weights with mmengine's ``load_checkpoint`` (mmpose's
``init_model``, ``MMPoseInferencer``, mmpose's ``tools/test.py``, the
Runner's ``load_from`` and ``resume``), which is not strict: a checkpoint in
another layout (transformers, mmpose's model zoo, the original ViTPose)
would leave random weights behind with a log line, or crash deep inside a
module. So every pose model that holds a
:class:`~vitpose_mm.models.ViTPoseBackbone` as ``backbone`` gets a
load-state-dict pre-hook (:func:`convert_on_load`) that sees the whole state
dict before any module reads it and

1. detects the layout (:func:`~.convert.detect_layout`); a foreign one
   (``hf``, ``mmpose``, ``original``) is converted to ours in place, with a
   ``pos_embed`` of another grid resized to the model's;
2. for a transformers ``save_pretrained`` folder, compares its
   ``config.json`` (carried in the state dict's ``_metadata`` by
   :func:`.mmengine_loader.load_local_hf`) with the model field by field
   (:func:`.hf_folder.check_config_fits`);
3. checks the result against the model (:func:`~.convert.check_fits`):
   every tensor present with the same shape, nothing missing, nothing left
   over. A mismatch raises ``ValueError`` naming the layout, the key and
   both shapes.

Models that hold more than ``backbone`` / ``neck`` / ``head(s)`` (a
distiller with its teacher, a knowledge-token learner) get the shape check
of the keys they share with the file, and the missing keys of each group
(``backbone``, ``head`` ...) the file has.

The hook is attached when the backbone is registered as a child module
(``torch.nn.modules.module.register_module_module_registration_hook``), so
it also works for estimators built by stock mmpose (``TopdownPoseEstimator``,
``BottomupPoseEstimator``) from a user's config: no special estimator type
is needed.
"""
from typing import Dict

import torch
from torch import nn

from .convert import OURS, check_fits, convert_state_dict, detect_layout
from .hf_folder import METADATA_KEY, check_config_fits
from .original import head_names_of

#: Top-level children of a plain pose model; others get the partial check.
PLAIN_GROUPS = ('backbone', 'neck', 'head', 'heads', 'data_preprocessor')
_ATTACHED = '_vitpose_mm_layout_hook'


class CheckpointMismatch(ValueError):
    """Weights that do not fit the model they are loaded into (raised by
    :func:`convert_on_load`; the tools turn it into one line)."""


def _group(key: str) -> str:
    return key.split('.', 1)[0]


def _fit_pos_embed(model: nn.Module, state: Dict[str, torch.Tensor]) -> None:
    key = 'backbone.pos_embed'
    stored, own = state.get(key), getattr(model.backbone, 'pos_embed', None)
    if (isinstance(stored, torch.Tensor) and own is not None
            and stored.dim() == 3 and stored.shape != own.shape
            and stored.shape[2] == own.shape[2]):
        state[key] = model.backbone.fit_pos_embed(stored)


def _check_partial(model: nn.Module, state: Dict[str, torch.Tensor],
                   layout: str) -> None:
    own = model.state_dict()
    for key, value in state.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(
                f'{layout} checkpoint does not fit {type(model).__name__}: '
                f'{key} is {tuple(value.shape)} in the checkpoint but '
                f'{tuple(own[key].shape)} in the model')
    groups = {_group(k) for k in state}
    missing = [k for k in own if _group(k) in groups and k not in state]
    if missing:
        raise ValueError(
            f'{layout} checkpoint does not fit {type(model).__name__}: '
            f'{len(missing)} missing keys {missing[:3]}')


def convert_on_load(model: nn.Module, state_dict: dict, prefix: str,
                    *args) -> None:
    """Load-state-dict pre-hook of a pose model (see the module doc).

    Args:
        model (nn.Module): The pose model (``backbone`` is ours).
        state_dict (dict): The state dict being loaded; its keys under
            ``prefix`` are replaced by their conversion.
        prefix (str): The model's key prefix in ``state_dict``.

    Raises:
        CheckpointMismatch: (a ValueError) A checkpoint that does not fit,
            naming the layout, the
            key and both shapes (or the missing / unexpected keys).
    """
    hf_config = (args[0] or {}).get(METADATA_KEY) if args else None
    if hf_config is not None:  # a save_pretrained folder's config.json
        try:
            check_config_fits(hf_config[0], model, source=hf_config[1])
        except ValueError as err:
            raise CheckpointMismatch(str(err)) from None
    sub = {k[len(prefix):]: v for k, v in state_dict.items()
           if k.startswith(prefix) and isinstance(v, torch.Tensor)}
    sub.pop('data_preprocessor.mean', None)
    sub.pop('data_preprocessor.std', None)
    if not sub:
        return
    try:
        layout = detect_layout(sub)
    except ValueError:
        return  # not ViTPose weights: leave them to the model's own checks
    if layout == 'mae':
        return  # a bare backbone file: the backbone's init_cfg reads those
    own_keys = model.state_dict().keys()
    plain = {_group(k) for k in own_keys} <= set(PLAIN_GROUPS)
    try:
        if layout != OURS:
            sub = convert_state_dict(
                sub, src=layout, head_names=head_names_of(own_keys) or None)
        _fit_pos_embed(model, sub)
        if plain:
            sub = check_fits(model, sub, src=OURS)
        else:
            _check_partial(model, sub, layout)
    except ValueError as err:
        msg = str(err)
        if not msg.startswith(layout):
            msg = f'{layout} checkpoint: {msg}'
        raise CheckpointMismatch(msg) from None
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if not key[len(prefix):].startswith('data_preprocessor.'):
            del state_dict[key]
    state_dict.update({prefix + k: v for k, v in sub.items()})


def _on_register(module: nn.Module, name: str, submodule: nn.Module):
    from vitpose_mm.models.backbones import ViTPoseBackbone
    if (name == 'backbone' and isinstance(submodule, ViTPoseBackbone)
            and not getattr(module, _ATTACHED, False)):
        handle = module._register_load_state_dict_pre_hook(
            convert_on_load, with_module=True)
        # before mmpose's own pre-hook, which renames keypoint_head.*
        hooks = module._load_state_dict_pre_hooks
        hooks.move_to_end(handle.id, last=False)
        object.__setattr__(module, _ATTACHED, True)
    return None


_REGISTERED = []


def attach_to_pose_models() -> None:
    """Attach :func:`convert_on_load` to every module that registers one of
    our backbones as ``backbone`` from now on. Idempotent."""
    if not _REGISTERED:
        _REGISTERED.append(
            nn.modules.module.register_module_module_registration_hook(
                _on_register))
