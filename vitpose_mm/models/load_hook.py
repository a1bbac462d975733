"""Layout conversion and the fit check inside ``load_state_dict``, for the
pose models that hold our backbone.

Stock clients load weights with mmengine's ``load_checkpoint`` (mmpose's
``init_model``, ``MMPoseInferencer``, mmpose's ``tools/test.py``, the
Runner's ``load_from`` and ``resume``), which is not strict: a checkpoint in
another layout (transformers, mmpose's model zoo, the original ViTPose)
would leave random weights behind with a log line, or crash deep inside a
module. So every module that registers a
:class:`~vitpose_mm.models.ViTPoseBackbone` as its ``backbone`` child gets
a load-state-dict pre-hook (:func:`convert_on_load`) that sees the whole
state dict before any module reads it and

1. for a transformers ``save_pretrained`` folder, compares its
   ``config.json`` (carried in the state dict's ``_metadata`` by
   :func:`vitpose_mm.checkpoint.mmengine_loader.load_local_hf`) with the
   model field by field
   (:func:`vitpose_mm.checkpoint.hf_folder.check_config_fits`);
2. fits the weights to the model with
   :func:`vitpose_mm.checkpoint.fit_state_dict`: layout detected and
   converted to ours, ``pos_embed`` of another grid resized, and checked:
   ``'exact'`` (every tensor present with its shape, nothing left over)
   for a plain pose model (``backbone`` / ``neck`` / ``head(s)``),
   ``'groups'`` for one holding more (a distiller with its teacher, a
   knowledge-token learner). A mismatch raises :class:`CheckpointMismatch`
   naming the layout, the key and both shapes.

3. when fine-tuning was asked for (:func:`set_fine_tune`, done by
   :class:`~vitpose_mm.engine.hooks.FineTuneHook` before the Runner loads
   ``load_from``), re-initialises what cannot fit (the final layer of
   another keypoint count, a new ViTPose+ dataset's head and expert) with
   ``fit_state_dict``'s ``reinit`` / ``keypoint_map`` / ``expert_from``,
   and logs one line listing what was re-initialised and why.

How the hook gets there, without touching anything at import: a
:class:`ViTPoseBackbone` calls :func:`expect_parent` when it is built. The
first call installs torch's module-registration hook
(``register_module_module_registration_hook``); it attaches
:func:`convert_on_load` to the module that registers a waiting backbone of
ours as ``backbone`` and does nothing for any other module (torch calls
these hooks while it iterates over them, so it cannot take itself out;
a backbone used bare is forgotten when it is garbage collected). So stock
mmpose estimators (``TopdownPoseEstimator``, ``BottomupPoseEstimator``)
built from a user's config get it, as mmpose's ``HeatmapHead`` registers
its own pre-hook, and a process that imports ``vitpose_mm`` without
building our models has no hook at all.
"""
import weakref
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from ..checkpoint import detect_layout, fit_state_dict
from ..checkpoint.hf_folder import METADATA_KEY, check_config_fits
from ..checkpoint.mmengine_loader import register_loader
from ..checkpoint.safe_globals import allow_mmengine_checkpoints

#: Top-level children of a plain pose model; others get the group check.
PLAIN_GROUPS = ('backbone', 'neck', 'head', 'heads', 'data_preprocessor')
_ATTACHED = '_vitpose_mm_layout_hook'
_FINE_TUNE = '_vitpose_mm_fine_tune'


class CheckpointMismatch(ValueError):
    """Weights that do not fit the model they are loaded into (raised by
    :func:`convert_on_load`; the tools turn it into one line)."""


def head_note(model: nn.Module) -> Optional[str]:
    """What a model's head says it predicts, for the keypoint-count message
    (``output_description()``, e.g. the bottom-up head's heatmaps and tags
    in one final layer); None for other heads."""
    describe = getattr(getattr(model, 'head', None), 'output_description',
                       None)
    return describe() if callable(describe) else None


def set_fine_tune(model: nn.Module,
                  reinit: Sequence[str],
                  keypoint_map: Optional[Sequence[Tuple[int, int]]] = None,
                  expert_from: Optional[int] = None) -> None:
    """Make the next loads into ``model`` fine-tuning loads: tensors
    matching ``reinit`` (fnmatch patterns) that the checkpoint lacks or
    holds with another shape keep the model's values, ``keypoint_map``
    carries final-layer rows over, ``expert_from`` seeds a new expert
    (:func:`vitpose_mm.checkpoint.fit_state_dict`). The model must have
    our backbone (the load pre-hook is attached here if it is not yet)."""
    attach(model)
    object.__setattr__(model, _FINE_TUNE,
                       dict(reinit=tuple(reinit), keypoint_map=keypoint_map,
                            expert_from=expert_from))


def convert_on_load(model: nn.Module, state_dict: dict, prefix: str,
                    *args) -> None:
    """Load-state-dict pre-hook of a pose model (see the module doc).

    Args:
        model (nn.Module): The pose model (``backbone`` is ours).
        state_dict (dict): The state dict being loaded; its keys under
            ``prefix`` are replaced by their conversion.
        prefix (str): The model's key prefix in ``state_dict``.
        args: torch's ``local_metadata`` first (a ``save_pretrained``
            folder's config.json travels there).

    Raises:
        CheckpointMismatch: (a ValueError) A checkpoint that does not fit,
            naming the layout, the key and both shapes (or the missing /
            unexpected keys).
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
    plain = {k.split('.', 1)[0] for k in model.state_dict()} <= set(
        PLAIN_GROUPS)
    fine_tune = getattr(model, _FINE_TUNE, None) or {}
    try:
        fit = fit_state_dict(model, sub, layout,
                             check='exact' if plain else 'groups',
                             head_note=head_note(model),
                             what=type(model).__name__, **fine_tune)
    except ValueError as err:
        msg = str(err)
        if not msg.startswith(layout):
            msg = f'{layout} checkpoint: {msg}'
        raise CheckpointMismatch(msg) from None
    sub = fit.state
    if fine_tune:
        print_log('vitpose_mm fine-tune: ' + (
            f're-initialised {len(fit.reinitialised)} tensors: '
            f'{fit.reinit_summary()}' if fit.reinitialised else
            'the checkpoint fits the model; nothing re-initialised'),
                  logger='current')
    for key in [k for k in state_dict if k.startswith(prefix)]:
        if not key[len(prefix):].startswith('data_preprocessor.'):
            del state_dict[key]
    state_dict.update({prefix + k: v for k, v in sub.items()})


def attach(model: nn.Module) -> None:
    """Attach :func:`convert_on_load` to ``model``, ahead of its other
    pre-hooks (mmpose's estimator renames ``keypoint_head.*`` in its own;
    ours must see the file's keys first). Idempotent."""
    if getattr(model, _ATTACHED, False):
        return
    handle = model._register_load_state_dict_pre_hook(convert_on_load,
                                                      with_module=True)
    model._load_state_dict_pre_hooks.move_to_end(handle.id, last=False)
    object.__setattr__(model, _ATTACHED, True)


_WAITING: 'weakref.WeakSet[nn.Module]' = weakref.WeakSet()
_HANDLE = []


def _on_register(module: nn.Module, name: str, submodule: nn.Module):
    if submodule in _WAITING and name == 'backbone':
        _WAITING.discard(submodule)
        attach(module)
    return None


def expect_parent(backbone: nn.Module) -> None:
    """Called by a new backbone of ours: attach :func:`convert_on_load` to
    the module that registers it as ``backbone`` (module doc)."""
    _WAITING.add(backbone)
    if not _HANDLE:
        _HANDLE.append(
            nn.modules.module.register_module_module_registration_hook(
                _on_register))




def prepare_loading(backbone: nn.Module) -> None:
    """What a new backbone of ours sets up for the clients that will load
    weights into its model, in place of anything done at import:

    - :func:`vitpose_mm.checkpoint.safe_globals.allow_mmengine_checkpoints`:
      ``torch.load(weights_only=True)`` reads mmengine training
      checkpoints (message hub, numpy arrays) through a narrow allow-list;
    - :func:`vitpose_mm.checkpoint.mmengine_loader.register_loader`:
      mmengine's ``load_checkpoint`` reads transformers' ViTPose folders
      and safetensors files (and nothing else differently);
    - :func:`vitpose_mm.hub.register_loaders`: ``vitpose://NAME`` (that
      scheme only) reads released weights by name from the cache;
    - :func:`expect_parent`: the load pre-hook on its pose model.
    """
    from ..hub.mmengine_scheme import register_loaders
    allow_mmengine_checkpoints()
    register_loader()
    register_loaders()
    expect_parent(backbone)


__all__ = ['CheckpointMismatch', 'attach', 'convert_on_load',
           'expect_parent', 'head_note', 'prepare_loading', 'set_fine_tune']
