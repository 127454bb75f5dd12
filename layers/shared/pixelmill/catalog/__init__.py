"""The catalog of functions: every function's arguments, description and JSON
Schema, without any imaging library.

``registry`` is the whole catalog in one list: each argument model with the
implementation that runs it, ``"module:Class"``, which only the worker imports
(``registry.load``). A new function is a module of arguments here, one of
implementation in ``pixelmill.transforms``, and a line below.
"""

from __future__ import annotations

from pixelmill.catalog.base import FunctionArgs
from pixelmill.catalog.blur import Blur
from pixelmill.catalog.change_projection import ChangeProjection
from pixelmill.catalog.clip import Clip
from pixelmill.catalog.convert import Convert
from pixelmill.catalog.crop import Crop
from pixelmill.catalog.flip import Flip
from pixelmill.catalog.grayscale import Grayscale
from pixelmill.catalog.limits import Limits
from pixelmill.catalog.normalized_difference import NormalizedDifference
from pixelmill.catalog.pipeline import Pipeline
from pixelmill.catalog.raster_info import RasterInfo
from pixelmill.catalog.registry import FunctionInfo, FunctionRegistry, field_errors
from pixelmill.catalog.resample import Resample
from pixelmill.catalog.resize import Resize
from pixelmill.catalog.rotate import Rotate
from pixelmill.catalog.sharpen import Sharpen
from pixelmill.catalog.thumbnail import Thumbnail
from pixelmill.catalog.to_cog import ToCog

registry = FunctionRegistry(
    {
        # photo functions (Pillow)
        Blur: "pixelmill.transforms.blur:Blur",
        Convert: "pixelmill.transforms.convert:Convert",
        Crop: "pixelmill.transforms.crop:Crop",
        Flip: "pixelmill.transforms.flip:Flip",
        Grayscale: "pixelmill.transforms.grayscale:Grayscale",
        Resize: "pixelmill.transforms.resize:Resize",
        Rotate: "pixelmill.transforms.rotate:Rotate",
        Sharpen: "pixelmill.transforms.sharpen:Sharpen",
        Thumbnail: "pixelmill.transforms.thumbnail:Thumbnail",
        # after every photo function: its steps are theirs
        Pipeline: "pixelmill.transforms.pipeline:Pipeline",
        # raster functions (rasterio)
        ChangeProjection: "pixelmill.transforms.change_projection:ChangeProjection",
        Clip: "pixelmill.transforms.clip:Clip",
        NormalizedDifference: "pixelmill.transforms.normalized_difference:NormalizedDifference",
        RasterInfo: "pixelmill.transforms.raster_info:RasterInfo",
        Resample: "pixelmill.transforms.resample:Resample",
        ToCog: "pixelmill.transforms.to_cog:ToCog",
    }
)

__all__ = ["FunctionArgs", "FunctionInfo", "FunctionRegistry", "Limits", "field_errors", "registry"]
