"""convert: write a photo in another format (its implementation; the arguments are ``pixelmill.catalog.convert``)."""

from __future__ import annotations

from pixelmill.catalog import convert as arguments
from pixelmill.transforms._photo import PhotoFunction


class Convert(arguments.Convert, PhotoFunction):
    """Runs ``convert``."""
