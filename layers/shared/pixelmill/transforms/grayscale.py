"""grayscale: turn a photo into shades of grey (its implementation; the arguments are ``pixelmill.catalog.grayscale``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import grayscale as arguments
from pixelmill.transforms._photo import PhotoFunction


class Grayscale(arguments.Grayscale, PhotoFunction):
    """Runs ``grayscale``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` as L, or LA when it has alpha."""
        if image.mode in ("L", "LA"):
            return image
        if image.mode == "CMYK":  # the source's colour space was kept: go through RGB
            image = image.convert("RGB")
        return image.convert("LA" if image.mode == "RGBA" else "L")
