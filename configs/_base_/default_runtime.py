# Runtime shared by every vitpose_mm config: mmpose's default runtime
# (hooks, logging, visualizer, environment) plus the plugin import. Plugin
# runtime defaults that every shipped config should get go here.
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
# Checkpoints written atomically; the old one deleted only after the new
# one and last_checkpoint are complete (vitpose_mm.engine.hooks.
# atomic_checkpoint_hook): a kill while saving never loses them all.
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
