"""blur: soften a photo with a Gaussian blur (its implementation; the arguments are ``pixelmill.catalog.blur``)."""

from __future__ import annotations

from PIL import Image, ImageFilter

from pixelmill.catalog import blur as arguments
from pixelmill.transforms._photo import PhotoFunction

PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


class Blur(arguments.Blur, PhotoFunction):
    """Runs ``blur``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` blurred; with alpha, blurred premultiplied so that the
        colour of transparent pixels does not bleed into the edges."""
        blur = ImageFilter.GaussianBlur(self.radius)
        premultiplied = PREMULTIPLIED.get(image.mode)
        if premultiplied is None:
            return image.filter(blur)
        return image.convert(premultiplied).filter(blur).convert(image.mode)
