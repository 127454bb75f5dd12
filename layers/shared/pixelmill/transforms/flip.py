"""flip: mirror a photo."""

from __future__ import annotations

from typing import ClassVar, Literal

from PIL import Image
from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction

TRANSPOSE = {
    "horizontal": Image.Transpose.FLIP_LEFT_RIGHT,
    "vertical": Image.Transpose.FLIP_TOP_BOTTOM,
}


@registry.register
class Flip(PhotoFunction):
    """Mirror a photo left to right (horizontal) or top to bottom (vertical)."""

    name: ClassVar[str] = "flip"
    model_config = ConfigDict(json_schema_extra={"examples": [{"direction": "horizontal"}]})

    direction: Literal["horizontal", "vertical"] = Field(
        description="horizontal: left and right swap; vertical: top and bottom swap.", examples=["horizontal"]
    )

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` mirrored (lossless)."""
        return image.transpose(TRANSPOSE[self.direction])
