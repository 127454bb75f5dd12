"""thumbnail: a small preview of a photo."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image
from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction, Size, downscale, scale_box


@registry.register
class Thumbnail(PhotoFunction):
    """Make a small preview whose longest side is at most `size` pixels.

    The aspect ratio is kept and the image is never enlarged. Large JPEGs are
    decoded reduced (shrink-on-load), which makes this much faster than
    decoding them whole.
    """

    name: ClassVar[str] = "thumbnail"
    model_config = ConfigDict(json_schema_extra={"examples": [{}, {"size": 128}]})

    size: int = Field(default=256, ge=1, le=4096, description="Longest side of the result, in pixels.", examples=[256])

    def output_size(self, size: Size) -> Size:
        """``size`` scaled so that its longest side is at most ``self.size``."""
        scale = min(1.0, self.size / max(size))
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))

    def draft_size(self, size: Size) -> Size | None:
        """The result's size: decoding at it or larger loses nothing."""
        target = self.output_size(size)
        return target if target != size else None

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` scaled down to the thumbnail size."""
        return self.apply_to_reduced(image, image.size)

    def apply_to_reduced(self, image: Image.Image, full_size: Size) -> Image.Image:
        """``image`` scaled to the thumbnail size of its full size."""
        target = self.output_size(full_size)
        if target == image.size:
            return image
        box = scale_box((0, 0, full_size[0], full_size[1]), full_size, image.size)
        return downscale(image, target, Image.Resampling.LANCZOS, box)
