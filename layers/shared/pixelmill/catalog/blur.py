"""blur: soften a photo with a Gaussian blur (its arguments; the implementation is ``pixelmill.transforms.blur``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs, Size, check_radius


class Blur(PhotoArgs):
    """Soften a photo with a Gaussian blur of the given radius."""

    name: ClassVar[str] = "blur"
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"radius": 8}]})

    radius: float = Field(
        default=2, ge=0.1, le=100, description="Standard deviation of the Gaussian, in pixels.", examples=[2]
    )

    def check_size(self, size: Size) -> None:
        """Refuse a radius larger than the image's shorter side: it costs as much and does nothing more."""
        check_radius("blur", self.radius, size)
