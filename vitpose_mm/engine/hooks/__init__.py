"""Hooks registered into mmpose's ``HOOKS``."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .export_hook import ViTPoseExportHook

__all__ = ['AtomicCheckpointHook', 'ViTPoseExportHook']
