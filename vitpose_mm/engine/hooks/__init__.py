"""Hooks registered into mmpose's ``HOOKS``."""
from .export_hook import ViTPoseExportHook

__all__ = ['ViTPoseExportHook']
