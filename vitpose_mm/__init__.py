"""vitpose_mm: ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its backbones, codecs and optimizer
constructors into the mmpose / mmengine registries. Use it from a config with
``custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)``.

Importing it also lets ``torch.load(weights_only=True)`` read mmengine
training checkpoints (message hub, numpy arrays) through a narrow
allow-list, so stock clients load them without unpickling arbitrary code:
see :mod:`vitpose_mm.checkpoint.safe_globals`. A pose model holding one of
its backbones converts checkpoints of the other ViTPose layouts
(transformers, mmpose's model zoo, the original) while they load and checks
that they fit, in every client (:mod:`vitpose_mm.checkpoint.load_hook`),
and mmengine's ``load_checkpoint`` reads ``.safetensors`` files and
transformers ``save_pretrained`` folders
(:mod:`vitpose_mm.checkpoint.mmengine_loader`), and released weights by
model name as ``vitpose-mm://NAME`` (only that scheme), downloaded once,
checked, converted and cached (:mod:`vitpose_mm.hub`).

It also makes ``_base_ = ['vitpose_mm::<path under configs/>']`` resolve
to the installed package's configs (mmengine only knows the packages named
in its ``MODULE2PACKAGE``). mmengine parses ``_base_`` before
``custom_imports``, so this holds in our tools, ``mim train vitpose_mm`` and
any process that imported vitpose_mm first, not in mmpose's stock
``tools/train.py`` (there, inherit by file path).
"""
from mmengine.config.utils import MODULE2PACKAGE
from .checkpoint.load_hook import attach_to_pose_models
from .checkpoint.mmengine_loader import register_loader
from .checkpoint.safe_globals import allow_mmengine_checkpoints

allow_mmengine_checkpoints()
attach_to_pose_models()
register_loader()
MODULE2PACKAGE.setdefault('vitpose_mm', 'vitpose_mm')

from . import codecs, datasets, engine, hub, models  # noqa: E402
from .version import __version__

hub.register_loaders()

__all__ = ['__version__', 'codecs', 'datasets', 'engine', 'hub', 'models']
