"""grayscale: turn a photo into shades of grey."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image
from pydantic import ConfigDict

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction


@registry.register
class Grayscale(PhotoFunction):
    """Turn a photo into shades of grey (ITU-R 601 luma), keeping its transparency.

    Formats without a grey mode (WebP, AVIF) store the grey image as RGB.
    """

    name: ClassVar[str] = "grayscale"
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` as L, or LA when it has alpha."""
        if image.mode in ("L", "LA"):
            return image
        if image.mode == "CMYK":  # the source's colour space was kept: go through RGB
            image = image.convert("RGB")
        return image.convert("LA" if image.mode == "RGBA" else "L")
