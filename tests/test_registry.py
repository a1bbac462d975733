"""Every name vitpose_mm registers resolves to our class, in mmpose's
registries, without shadowing a name of mmpose, mmdet or mmpretrain."""
import importlib

import pytest
from mmpose.registry import (DATASETS, HOOKS, KEYPOINT_CODECS, MODELS,
                             OPTIM_WRAPPER_CONSTRUCTORS, TRANSFORMS)

import vitpose_mm

OURS = [
    (MODELS, 'ViTPoseBackbone', 'vitpose_mm.models.backbones.vit'),
    (KEYPOINT_CODECS, 'ViTPoseUDPHeatmap', 'vitpose_mm.codecs.udp_heatmap'),
    (OPTIM_WRAPPER_CONSTRUCTORS, 'ViTPoseLayerDecayOptimWrapperConstructor',
     'vitpose_mm.engine.optim_wrappers.layer_decay_constructor'),
    (MODELS, 'ViTPosePlusBackbone', 'vitpose_mm.models.backbones.vit_moe'),
    (MODELS, 'ViTPosePlusEstimator',
     'vitpose_mm.models.pose_estimators.vitpose_plus'),
    (MODELS, 'ViTPoseDistiller', 'vitpose_mm.models.distillers.distiller'),
    (MODELS, 'ViTPoseKnowledgeTokenLearner',
     'vitpose_mm.models.distillers.knowledge_token'),
    (HOOKS, 'ViTPoseExportHook', 'vitpose_mm.engine.hooks.export_hook'),
    (HOOKS, 'AtomicCheckpointHook',
     'vitpose_mm.engine.hooks.atomic_checkpoint_hook'),
    (DATASETS, 'ViTPoseMultiDataset', 'vitpose_mm.datasets.multi_dataset'),
    (DATASETS, 'ViTPoseAPT36KDataset', 'vitpose_mm.datasets.apt36k'),
    (DATASETS, 'ViTPoseInterHand2DDataset', 'vitpose_mm.datasets.interhand2d'),
    (TRANSFORMS, 'ViTPoseSetDatasetIndex', 'vitpose_mm.datasets.transforms'),
    (KEYPOINT_CODECS, 'ViTPoseAssociativeEmbedding',
     'vitpose_mm.codecs.associative_embedding'),
    (MODELS, 'ViTPoseAELoss', 'vitpose_mm.models.losses.ae_loss'),
    (MODELS, 'ViTPoseAEHead', 'vitpose_mm.models.heads.ae_head'),
    (MODELS, 'ViTPoseUpsampleNeck', 'vitpose_mm.models.necks.upsample_neck'),
    (TRANSFORMS, 'ViTPoseBottomupGetHeatmapMask',
     'vitpose_mm.datasets.bottomup_transforms'),
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
