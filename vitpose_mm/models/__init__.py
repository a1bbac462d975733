"""Models of vitpose_mm: backbones and their layers."""
from .backbones import (VITPOSE_ARCHS, VITPOSE_PLUS_PART_FEATURES,
                        ViTPoseBackbone, ViTPosePlusBackbone)
from .distillers import ViTPoseDistiller, ViTPoseKnowledgeTokenLearner
from .heads import ViTPoseAEHead
from .losses import ViTPoseAELoss
from .necks import ViTPoseUpsampleNeck
from .pose_estimators import ViTPosePlusEstimator

__all__ = ['VITPOSE_ARCHS', 'VITPOSE_PLUS_PART_FEATURES', 'ViTPoseBackbone',
           'ViTPoseAEHead', 'ViTPoseAELoss', 'ViTPoseDistiller',
           'ViTPoseKnowledgeTokenLearner', 'ViTPosePlusBackbone',
           'ViTPosePlusEstimator', 'ViTPoseUpsampleNeck']
