"""thumbnail: a small preview of a photo (its implementation; the arguments are ``pixelmill.catalog.thumbnail``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import thumbnail as arguments
from pixelmill.transforms._photo import PhotoFunction, Size, downscale, scale_box


class Thumbnail(arguments.Thumbnail, PhotoFunction):
    """Runs ``thumbnail``."""

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
