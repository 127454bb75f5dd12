"""thumbnail: a small preview of a photo (its arguments; the implementation is ``pixelmill.transforms.thumbnail``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs, Size


class Thumbnail(PhotoArgs):
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
