"""Models of vitpose_mm: backbones and their layers."""
from .backbones import (VITPOSE_ARCHS, VITPOSE_PLUS_PART_FEATURES,
                        ViTPoseBackbone, ViTPosePlusBackbone)
from .distillers import ViTPoseDistiller, ViTPoseKnowledgeTokenLearner
from .pose_estimators import ViTPosePlusEstimator

__all__ = ['VITPOSE_ARCHS', 'VITPOSE_PLUS_PART_FEATURES', 'ViTPoseBackbone',
           'ViTPoseDistiller',
           'ViTPoseKnowledgeTokenLearner', 'ViTPosePlusBackbone',
           'ViTPosePlusEstimator']
