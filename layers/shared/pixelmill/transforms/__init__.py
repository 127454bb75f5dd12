"""The functions' implementations: pure functions on images, no AWS.

Each module implements one entry of ``pixelmill.catalog`` (it subclasses that
entry's argument model). Only the worker imports them, through
``pixelmill.catalog.registry.load``: they load Pillow, rasterio and numpy.
"""

from __future__ import annotations

from pixelmill.transforms.base import ImageFunction, Limits, Progress, Rendered, RenderedFile

__all__ = ["ImageFunction", "Limits", "Progress", "Rendered", "RenderedFile"]
