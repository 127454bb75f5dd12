"""The raster functions' arguments: CRS, resampling and resolution types.

No rasterio here. A CRS argument is checked at POST time for its form only
(an authority code, a WKT or a PROJ string that names no file); whether PROJ
knows it is found out by the worker, which fails the task with PROJ's reason
(``pixelmill.transforms._raster.parse_crs``). So the API needs no PROJ
database: that is about 30 MiB and 300 ms of cold start it does not carry.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from pixelmill.catalog.base import FunctionArgs

ResamplingName = Literal[
    "nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "min", "max", "med", "q1", "q3", "rms"
]
RESAMPLING_DESCRIPTION = (
    "How output pixels are computed from the source's: nearest (default: keeps the values, right for classes and "
    "codes), bilinear, cubic, cubic_spline or lanczos (smooth, for imagery and continuous data), average, mode "
    "(most common value), min, max, med, q1, q3 or rms of the source pixels each output pixel covers."
)

_AUTHORITY_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_.]+$")
_OGC_URN = re.compile(r"^urn:ogc:def:crs:[A-Za-z0-9_.:]+$", re.IGNORECASE)
_WKT = re.compile(
    r"^\s*(PROJCS|GEOGCS|GEOCCS|COMPD_CS|PROJCRS|PROJECTEDCRS|GEOGCRS|GEOGRAPHICCRS|GEODCRS|GEODETICCRS|"
    r"BOUNDCRS|COMPOUNDCRS|DERIVEDPROJCRS)\s*\[",
    re.IGNORECASE,
)
# PROJ and WKT can name files (init files, grids): a CRS argument never reads one.
_FILE_REFERENCES = re.compile(r"(\binit\s*=|\b(nad|geoid)?grids\s*=\s*(?!@null\b)|PARAMETERFILE\s*\[)", re.IGNORECASE)


def check_crs_syntax(text: str) -> str:
    """``text`` stripped, if it has the form of a CRS we read; ValueError saying what is wrong otherwise."""
    value = text.strip()
    is_proj = value.startswith(("+proj=", "proj="))
    if not (_AUTHORITY_CODE.match(value) or _OGC_URN.match(value) or _WKT.match(value) or is_proj):
        raise ValueError("give an authority code (EPSG:3857), a WKT or a PROJ string (+proj=...)")
    if _FILE_REFERENCES.search(value):
        raise ValueError("the CRS may not refer to files (init=, nadgrids=, geoidgrids=, grids=, PARAMETERFILE)")
    return value


def _valid_crs(text: str) -> str:
    check_crs_syntax(text)
    return text


CrsText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=20_000,
        description="A coordinate reference system: an EPSG code (EPSG:3857), a WKT or a PROJ string.",
        examples=["EPSG:3857"],
    ),
    AfterValidator(_valid_crs),
]
"""A CRS argument: its form checked at POST time, PROJ's verdict by the worker."""

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Resolution = PositiveFloat | tuple[PositiveFloat, PositiveFloat]


class RasterArgs(FunctionArgs):
    """Base of the raster functions' arguments."""

    kind: ClassVar[str] = "raster"
    crs_arguments: ClassVar[tuple[str, ...]] = ()
    """The fields that are a CrsText: the worker asks PROJ about them when it loads the function."""
