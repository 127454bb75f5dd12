"""The raster functions' arguments: CRS, resampling and resolution types.

No rasterio here. A CRS argument is checked at POST time against the allowlist
of ``pixelmill.catalog.crs`` (an authority code, a WKT or a PROJ string made
only of what may not name a file); whether PROJ knows it, and whether what PROJ
resolves it to passes the same list, is found out by the worker, which fails the
task with the reason (``pixelmill.transforms._raster.parse_crs``). So the API
needs neither rasterio nor PROJ's database.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from pixelmill.catalog.base import FunctionArgs
from pixelmill.catalog.crs import check_crs_text

ResamplingName = Literal[
    "nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average", "mode", "min", "max", "med", "q1", "q3", "rms"
]
RESAMPLING_DESCRIPTION = (
    "How output pixels are computed from the source's: nearest (default: keeps the values, right for classes and "
    "codes), bilinear, cubic, cubic_spline or lanczos (smooth, for imagery and continuous data), average, mode "
    "(most common value), min, max, med, q1, q3 or rms of the source pixels each output pixel covers."
)


def check_crs_syntax(text: str) -> str:
    """``text`` stripped, if it is a CRS of a form and content we read (``pixelmill.catalog.crs``'s
    allowlist); ValueError saying what is wrong otherwise."""
    value = text.strip()
    check_crs_text(value)
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
