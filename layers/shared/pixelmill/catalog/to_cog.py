"""to_cog: write a raster as a Cloud-Optimized GeoTIFF, optionally reprojected (its arguments; the implementation is ``pixelmill.transforms.to_cog``)."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from pixelmill.catalog.raster import (
    RESAMPLING_DESCRIPTION,
    CrsText,
    RasterArgs,
    ResamplingName,
    Resolution,
)

Compression = Literal["deflate", "zstd", "lzw", "jpeg", "webp"]
OverviewResampling = Literal["nearest", "average", "bilinear", "cubic", "cubicspline", "lanczos", "mode", "rms"]

LOSSY = frozenset({"jpeg", "webp"})


class ToCog(RasterArgs):
    """Write a raster as a Cloud-Optimized GeoTIFF: tiled, compressed, with overviews.

    `compression` is deflate (default), zstd or lzw (lossless, any data type),
    or jpeg or webp (lossy, 8-bit data only: 1 or 3 bands for jpeg, whose
    alpha band becomes a mask; 3 or 4 for webp). With `target_srs` the raster
    is reprojected in the same task: warped window by window, then written as
    a COG.
    """

    name: ClassVar[str] = "to_cog"
    crs_arguments: ClassVar[tuple[str, ...]] = ("target_srs",)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {},
                {"compression": "zstd", "blocksize": 256, "overview_resampling": "average"},
                {"compression": "jpeg", "quality": 85},
                {"target_srs": "EPSG:3857", "resampling": "bilinear", "compression": "webp"},
            ]
        }
    )

    compression: Compression = Field(default="deflate", description="deflate, zstd or lzw (lossless), jpeg or webp.")
    quality: int | None = Field(
        default=None, ge=1, le=100, description="Quality of jpeg and webp compression, 1..100 (GDAL's default: 75)."
    )
    blocksize: Literal[256, 512, 1024] = Field(default=512, description="Tile width and height in pixels.")
    overview_resampling: OverviewResampling = Field(
        default="average", description="How overviews (the reduced copies) are computed."
    )
    target_srs: CrsText | None = Field(
        default=None, description="Reproject to this CRS (EPSG code, WKT or PROJ string) first. Default: keep the CRS."
    )
    resampling: ResamplingName = Field(default="nearest", description="With target_srs: " + RESAMPLING_DESCRIPTION)
    resolution: Resolution | None = Field(
        default=None, description="With target_srs: pixel size in its units, one number or [x, y]."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.quality is not None and self.compression not in LOSSY:
            raise ValueError("quality applies to jpeg and webp compression only")
        if self.target_srs is None and ({"resampling", "resolution"} & self.model_fields_set):
            raise ValueError("resampling and resolution apply with target_srs only")
        return self
