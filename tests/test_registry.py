"""Every name vitpose_mm registers resolves to our class, in mmpose's
registries, without shadowing a name of mmpose, mmdet or mmpretrain."""
import importlib

import pytest
from mmpose.registry import KEYPOINT_CODECS, MODELS, OPTIM_WRAPPER_CONSTRUCTORS

import vitpose_mm

OURS = [
    (MODELS, 'ViTPoseBackbone', 'vitpose_mm.models.backbones.vit'),
    (KEYPOINT_CODECS, 'ViTPoseUDPHeatmap', 'vitpose_mm.codecs.udp_heatmap'),
    (OPTIM_WRAPPER_CONSTRUCTORS, 'ViTPoseLayerDecayOptimWrapperConstructor',
     'vitpose_mm.engine.optim_wrappers.layer_decay_constructor'),
]


@pytest.mark.parametrize('registry,name,module', OURS)
def test_name_resolves_to_our_class(registry, name, module):
    cls = registry.get(name)
    assert cls is not None, name
    assert cls.__module__ == module
    assert cls is getattr(importlib.import_module(module), name)


def test_package_exports_subpackages_and_version():
    assert set(vitpose_mm.__all__) >= {'codecs', 'engine', 'models',
                                      '__version__'}
