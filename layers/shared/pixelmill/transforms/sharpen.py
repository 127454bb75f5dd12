"""sharpen: crisp up a photo with an unsharp mask."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image, ImageFilter
from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction, Size, check_radius


@registry.register
class Sharpen(PhotoFunction):
    """Crisp up a photo with an unsharp mask.

    Defaults suit a photo that was just scaled down; raise `percent` for a
    stronger effect and `threshold` to leave smooth areas (skin, sky) alone.
    """

    name: ClassVar[str] = "sharpen"
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"radius": 1, "percent": 200, "threshold": 2}]})

    radius: float = Field(
        default=2, ge=0.1, le=50, description="Radius of the blur the mask is made from, in pixels.", examples=[2]
    )
    percent: int = Field(
        default=150, ge=1, le=500, description="Strength of the sharpening, in percent.", examples=[150]
    )
    threshold: int = Field(
        default=3, ge=0, le=255, description="Smallest brightness difference that is sharpened.", examples=[3]
    )

    def check_size(self, size: Size) -> None:
        """Refuse a radius larger than the image's shorter side: it costs as much and does nothing more."""
        check_radius("sharpen", self.radius, size)

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` sharpened; its alpha channel, if any, is left as it is."""
        mask = ImageFilter.UnsharpMask(self.radius, self.percent, self.threshold)
        if image.mode not in ("LA", "RGBA"):
            return image.filter(mask)
        # Sharpening alpha would put halos around the edges of transparent areas.
        alpha = image.getchannel("A")
        sharpened = image.convert(image.mode[:-1]).filter(mask)
        sharpened.putalpha(alpha)
        return sharpened
