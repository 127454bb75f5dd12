"""rotate: turn a photo by an angle (its arguments; the implementation is ``pixelmill.transforms.rotate``)."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs, Size


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


class Rotate(PhotoArgs):
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

    def quarter_turn(self, size: Size) -> int | None:
        """The turn (90, 180 or 270) when it is a lossless transposition of ``size``, else None."""
        turn = int(self.turn) if self.turn in (90, 180, 270) else None
        if turn is not None and turn != 180 and not self.expand and size[0] != size[1]:
            return None  # a quarter turn of a non-square image kept at its size: corners to fill
        return turn

    def output_size(self, size: Size) -> Size:
        """``size`` turned: the bounding box of the turned image when expanding."""
        if self.turn == 0 or not self.expand:
            return size
        if self.quarter_turn(size) is not None:
            return (size[1], size[0]) if self.turn in (90, 270) else size
        return _expanded_size(size, -self.turn)
