"""The function registry, filled by importing every module of this package.

A new function type is one module here that decorates its class with
``@registry.register``; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from pixelmill.transforms.base import ImageFunction, Limits, Progress, Rendered, RenderedFile
from pixelmill.transforms.registry import FunctionInfo, FunctionRegistry

registry = FunctionRegistry()

_INFRASTRUCTURE = {"base", "registry"}

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
registry.close()

__all__ = [
    "FunctionInfo",
    "FunctionRegistry",
    "ImageFunction",
    "Limits",
    "Progress",
    "Rendered",
    "RenderedFile",
    "registry",
]
