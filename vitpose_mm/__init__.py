"""vitpose_mm: ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its backbones, codecs and optimizer
constructors into the mmpose / mmengine registries. Use it from a config with
``custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)``.
"""
from . import codecs, datasets, engine, models
from .version import __version__

__all__ = ['__version__', 'codecs', 'datasets', 'engine', 'models']
