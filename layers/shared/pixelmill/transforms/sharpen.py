"""sharpen: crisp up a photo with an unsharp mask (its implementation; the arguments are ``pixelmill.catalog.sharpen``)."""

from __future__ import annotations

from PIL import Image, ImageFilter

from pixelmill.catalog import sharpen as arguments
from pixelmill.transforms._photo import PhotoFunction


class Sharpen(arguments.Sharpen, PhotoFunction):
    """Runs ``sharpen``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` sharpened; its alpha channel, if any, is left as it is."""
        mask = ImageFilter.UnsharpMask(self.radius, self.percent, self.threshold)
        if image.mode not in ("LA", "RGBA"):
            return image.filter(mask)
        # Sharpening alpha would put halos around the edges of transparent areas.
        alpha = image.getchannel("A")
        sharpened = image.convert(image.mode[:-1]).filter(mask)
        sharpened.putalpha(alpha)
        return sharpened
