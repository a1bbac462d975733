"""Knowledge transfer between ViTPose models (ViTPose paper, Sec. 3.4):
knowledge-token and heatmap distillation, registered into mmpose's
``MODELS``. Their weights-only export is
:class:`vitpose_mm.engine.hooks.ViTPoseExportHook`."""
from .distiller import ViTPoseDistiller
from .knowledge_token import ViTPoseKnowledgeTokenLearner
from .teacher import project_tokens

__all__ = ['ViTPoseDistiller', 'ViTPoseKnowledgeTokenLearner',
           'project_tokens']
