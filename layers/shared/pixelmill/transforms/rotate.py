"""rotate: turn a photo by an angle (its implementation; the arguments are ``pixelmill.catalog.rotate``)."""

from __future__ import annotations

from PIL import Image, ImageColor

from pixelmill.catalog import rotate as arguments
from pixelmill.transforms._photo import PhotoFunction

# Exact quarter turns, clockwise, as lossless transpositions.
QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


class Rotate(arguments.Rotate, PhotoFunction):
    """Runs ``rotate``."""

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` turned clockwise by ``angle``."""
        if self.turn == 0:
            return image
        turn = self.quarter_turn(image.size)
        if turn is not None:
            return image.transpose(QUARTER_TURNS[turn])
        image, fill = self._with_fill(image)
        return image.rotate(-self.turn, resample=Image.Resampling.BICUBIC, expand=self.expand, fillcolor=fill)

    def _with_fill(self, image: Image.Image) -> tuple[Image.Image, float | tuple[int, ...]]:
        """``image`` in a mode that can show the fill colour, and that colour in its mode."""
        rgba = ImageColor.getrgb(self.fill) if self.fill else (0, 0, 0, 0)
        if len(rgba) == 3:
            rgba = (*rgba, 255)
        if rgba[3] < 255 and image.mode in ("L", "RGB"):
            image = image.convert(image.mode + "A")
        elif rgba[3] < 255 and image.mode == "CMYK":
            image = image.convert("RGBA")
        colour = Image.new("RGBA", (1, 1), rgba).convert(image.mode).getpixel((0, 0))
        assert colour is not None
        return image, colour
