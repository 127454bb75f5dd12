"""crop: cut a rectangle out of a photo (its implementation; the arguments are ``pixelmill.catalog.crop``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import crop as arguments
from pixelmill.transforms._photo import PhotoFunction


class Crop(arguments.Crop, PhotoFunction):
    """Runs ``crop``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """The rectangle of ``image``."""
        self.output_size(image.size)  # checked again: a late EXIF orientation may have turned the image
        return image.crop((self.left, self.top, self.left + self.width, self.top + self.height))
