"""rotate: turn a photo by an angle."""

from __future__ import annotations

import math
from typing import ClassVar

from PIL import Image, ImageColor
from pydantic import ConfigDict, Field

from pixelmill.transforms import registry
from pixelmill.transforms._photo import PhotoFunction, Size

# Exact quarter turns, clockwise, as lossless transpositions.
QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


@registry.register
class Rotate(PhotoFunction):
    """Turn a photo clockwise by an angle in degrees.

    Multiples of 90 are exact and lossless. Other angles leave corners
    uncovered: they take the `fill` colour, transparent by default (white in
    formats without transparency, such as JPEG).
    """

    name: ClassVar[str] = "rotate"
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"angle": 90}, {"angle": -12.5, "fill": "#ffffff"}, {"angle": 45, "expand": False}]
        }
    )

    angle: float = Field(
        ge=-360, le=360, description="Degrees, clockwise (negative: counter-clockwise).", examples=[90]
    )
    expand: bool = Field(
        default=True, description="Enlarge the result to hold the whole turned image (else keep the source's size)."
    )
    fill: str | None = Field(
        default=None,
        pattern=r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
        description="Colour of the uncovered corners, #rgb, #rrggbb or #rrggbbaa; default transparent.",
        examples=["#ffffff", "#00000000"],
    )

    @property
    def turn(self) -> float:
        """The angle as a clockwise turn in [0, 360)."""
        return self.angle % 360

    def _transposition(self, size: Size) -> Image.Transpose | None:
        """The lossless transposition doing this rotation on ``size``, if there is one."""
        method = QUARTER_TURNS.get(int(self.turn)) if self.turn.is_integer() else None
        if method is not None and self.turn != 180 and not self.expand and size[0] != size[1]:
            return None  # a quarter turn of a non-square image kept at its size: corners to fill
        return method

    def output_size(self, size: Size) -> Size:
        """``size`` turned: the bounding box of the turned image when expanding."""
        if self.turn == 0 or not self.expand:
            return size
        if self._transposition(size) is not None:
            return (size[1], size[0]) if self.turn in (90, 270) else size
        return _expanded_size(size, -self.turn)

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` turned clockwise by ``angle``."""
        if self.turn == 0:
            return image
        method = self._transposition(image.size)
        if method is not None:
            return image.transpose(method)
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


def _expanded_size(size: Size, degrees: float) -> Size:
    """The size ``Image.rotate(degrees, expand=True)`` gives an image of ``size``
    (the same arithmetic as Pillow's, so that the prediction is exact)."""
    width, height = size
    angle = -math.radians(degrees % 360.0)
    a, b = round(math.cos(angle), 15), round(math.sin(angle), 15)
    d, e = round(-math.sin(angle), 15), round(math.cos(angle), 15)
    cx, cy = width / 2, height / 2
    c = a * -cx + b * -cy + cx
    f = d * -cx + e * -cy + cy
    xs = [a * x + b * y + c for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    ys = [d * x + e * y + f for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    return math.ceil(max(xs)) - math.floor(min(xs)), math.ceil(max(ys)) - math.floor(min(ys))
