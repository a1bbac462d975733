"""Hooks registered into mmpose's ``HOOKS``."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .export_hook import ViTPoseExportHook
from .fine_tune_hook import FineTuneHook

__all__ = ['AtomicCheckpointHook', 'FineTuneHook', 'ViTPoseExportHook']
