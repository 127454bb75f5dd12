"""crop: cut a rectangle out of a photo (its arguments; the implementation is ``pixelmill.transforms.crop``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from pixelmill.catalog.photo import PhotoArgs, Size
from pixelmill.errors import ProcessingError


class Crop(PhotoArgs):
    """Cut a rectangle out of a photo, given in pixels from its top-left corner.

    Coordinates refer to the upright image (after EXIF orientation, unless
    `auto_orient` is false). A rectangle that does not lie within the image
    fails the task with the code `invalid_crop`.
    """

    name: ClassVar[str] = "crop"
    model_config = ConfigDict(json_schema_extra={"examples": [{"left": 100, "top": 50, "width": 640, "height": 480}]})

    left: int = Field(default=0, ge=0, description="Distance of the rectangle from the left edge.", examples=[100])
    top: int = Field(default=0, ge=0, description="Distance of the rectangle from the top edge.", examples=[50])
    width: int = Field(ge=1, description="Width of the rectangle.", examples=[640])
    height: int = Field(ge=1, description="Height of the rectangle.", examples=[480])

    def output_size(self, size: Size) -> Size:
        """The rectangle's size; ProcessingError ``invalid_crop`` if it is not within ``size``."""
        right, bottom = self.left + self.width, self.top + self.height
        if right > size[0] or bottom > size[1]:
            raise ProcessingError(
                f"the crop rectangle (left {self.left}, top {self.top}, width {self.width}, height {self.height}) "
                f"reaches {right}×{bottom}, outside the {size[0]}×{size[1]} image",
                code="invalid_crop",
            )
        return self.width, self.height

    def fixed_size(self) -> Size | None:
        """The rectangle's size (or the crop fails)."""
        return self.width, self.height
