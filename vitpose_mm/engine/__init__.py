"""Training-engine pieces registered into mmengine's registries."""


__all__ = []
