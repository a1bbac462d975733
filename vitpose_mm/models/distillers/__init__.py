"""Knowledge transfer between ViTPose models (ViTPose paper, Sec. 3.4):
knowledge-token and heatmap distillation, registered into mmpose's
``MODELS`` (the models) and ``HOOKS`` (the weights-only export)."""
from .distiller import ViTPoseDistiller
from .export_hook import ViTPoseExportHook
from .knowledge_token import ViTPoseKnowledgeTokenLearner
from .teacher import project_tokens

__all__ = ['ViTPoseDistiller', 'ViTPoseExportHook',
           'ViTPoseKnowledgeTokenLearner', 'project_tokens']
