"""sharpen: crisp up a photo with an unsharp mask (its arguments; the implementation is ``pixelmill.transforms.sharpen``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs, Size, check_radius


class Sharpen(PhotoArgs):
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
