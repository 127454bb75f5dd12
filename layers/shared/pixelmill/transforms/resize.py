"""resize: scale a photo to a width, a height or into a box (its implementation; the arguments are ``pixelmill.catalog.resize``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import resize as arguments
from pixelmill.transforms._photo import PhotoFunction, Size, downscale, scale_box

RESAMPLING: dict[str, Image.Resampling] = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


class Resize(arguments.Resize, PhotoFunction):
    """Runs ``resize``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """Scale ``image`` as planned."""
        return self.apply_to_reduced(image, image.size)

    def apply_to_reduced(self, image: Image.Image, full_size: Size) -> Image.Image:
        """Scale ``image`` as planned for its full size (the same when not reduced)."""
        target, region = self.plan(full_size)
        box = scale_box(region, full_size, image.size)
        return downscale(image, target, RESAMPLING[self.resample], box)
