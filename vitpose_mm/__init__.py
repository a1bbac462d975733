"""vitpose_mm: ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its backbones, codecs and optimizer
constructors into the mmpose / mmengine registries. Use it from a config with
``custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)``.

Importing it changes nothing else in the process: what our models need
for loading (the pose models' load pre-hook that converts the other ViTPose
layouts and checks the fit, mmengine reading transformers' ViTPose files,
``torch.load`` reading mmengine training checkpoints through a narrow
allow-list) is set up when one of our backbones is built
(:func:`vitpose_mm.models.load_hook.prepare_loading`; it also lets
mmengine's ``load_checkpoint`` read released weights by model name,
``vitpose://NAME``, that scheme only: :mod:`vitpose_mm.hub`).

It also makes ``_base_ = ['vitpose_mm::<path under configs/>']`` resolve
to the installed package's configs (mmengine only knows the packages named
in its ``MODULE2PACKAGE``). mmengine parses ``_base_`` before
``custom_imports``, so this holds in our tools, ``mim train vitpose_mm`` and
any process that imported vitpose_mm first, not in mmpose's stock
``tools/train.py`` (there, inherit by file path).
"""
from mmengine.config.utils import MODULE2PACKAGE

MODULE2PACKAGE.setdefault('vitpose_mm', 'vitpose_mm')

from . import codecs, datasets, engine, models  # noqa: E402
from .version import __version__

__all__ = ['__version__', 'codecs', 'datasets', 'engine', 'models']
