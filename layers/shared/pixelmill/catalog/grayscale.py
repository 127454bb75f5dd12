"""grayscale: turn a photo into shades of grey (its arguments; the implementation is ``pixelmill.transforms.grayscale``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict

from pixelmill.catalog.photo import PhotoArgs


class Grayscale(PhotoArgs):
    """Turn a photo into shades of grey (ITU-R 601 luma), keeping its transparency.

    Formats without a grey mode (WebP, AVIF) store the grey image as RGB.
    """

    name: ClassVar[str] = "grayscale"
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})
