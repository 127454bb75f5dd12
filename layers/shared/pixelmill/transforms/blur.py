"""blur: soften a photo with a Gaussian blur."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image, ImageFilter
from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction, Size, check_radius

PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


@registry.register
class Blur(PhotoFunction):
    """Soften a photo with a Gaussian blur of the given radius."""

    name: ClassVar[str] = "blur"
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"radius": 8}]})

    radius: float = Field(
        default=2, ge=0.1, le=100, description="Standard deviation of the Gaussian, in pixels.", examples=[2]
    )

    def check_size(self, size: Size) -> None:
        """Refuse a radius larger than the image's shorter side: it costs as much and does nothing more."""
        check_radius("blur", self.radius, size)

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` blurred; with alpha, blurred premultiplied so that the
        colour of transparent pixels does not bleed into the edges."""
        blur = ImageFilter.GaussianBlur(self.radius)
        premultiplied = PREMULTIPLIED.get(image.mode)
        if premultiplied is None:
            return image.filter(blur)
        return image.convert(premultiplied).filter(blur).convert(image.mode)
