"""Registries of the scope ``vitpose_mm``, for mmengine's inferencers.

``MMPoseInferencer(pose2d=NAME, scope='vitpose_mm')`` finds ``NAME`` in our
``model-index.yml`` (:mod:`vitpose_mm.hub.zoo`) and then builds everything
in the default scope ``vitpose_mm``; mmengine imports this module for
that scope (``Registry.switch_scope_and_registry`` imports
``<scope>.registry``) and looks up the registry of that scope. Each one here
is an empty child of mmpose's registry of the same name: our modules are
registered in mmpose's registries (so ``custom_imports`` in stock mmpose
configs finds them), and a child finds whatever its parent holds.

Nothing imports this module but mmengine, when a process uses the scope
``vitpose_mm`` (importing ``vitpose_mm`` adds nothing to mmpose's
registries, issue 21).
"""
from mmengine.registry import Registry
from mmpose import registry as _mmpose

#: ``{name in mmpose.registry: child registry of scope vitpose_mm}``.
CHILDREN = {}
for _name, _parent in sorted(vars(_mmpose).items()):
    if isinstance(_parent, Registry) and _name.isupper():
        CHILDREN[_name] = Registry(_parent.name, parent=_parent,
                                   scope='vitpose_mm',
                                   locations=['vitpose_mm'])
globals().update(CHILDREN)

__all__ = sorted(CHILDREN)
