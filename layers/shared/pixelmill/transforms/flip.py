"""flip: mirror a photo (its implementation; the arguments are ``pixelmill.catalog.flip``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import flip as arguments
from pixelmill.transforms._photo import PhotoFunction

TRANSPOSE = {
    "horizontal": Image.Transpose.FLIP_LEFT_RIGHT,
    "vertical": Image.Transpose.FLIP_TOP_BOTTOM,
}


class Flip(arguments.Flip, PhotoFunction):
    """Runs ``flip``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` mirrored (lossless)."""
        return image.transpose(TRANSPOSE[self.direction])
