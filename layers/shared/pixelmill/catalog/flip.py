"""flip: mirror a photo (its arguments; the implementation is ``pixelmill.transforms.flip``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs


class Flip(PhotoArgs):
    """Mirror a photo left to right (horizontal) or top to bottom (vertical)."""

    name: ClassVar[str] = "flip"
    model_config = ConfigDict(json_schema_extra={"examples": [{"direction": "horizontal"}]})

    direction: Literal["horizontal", "vertical"] = Field(
        description="horizontal: left and right swap; vertical: top and bottom swap.", examples=["horizontal"]
    )
