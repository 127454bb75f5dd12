"""clip: cut a raster to a bounding box or a GeoJSON polygon (its arguments; the implementation is ``pixelmill.transforms.clip``)."""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelmill.catalog.raster import (
    CrsText,
    RasterArgs,
)

MAX_POSITIONS = 10_000
"""Most vertices a clipping geometry may have (it is stored with the task)."""

Position = Annotated[list[float], Field(min_length=2, max_length=3)]
Ring = Annotated[list[Position], Field(min_length=4, description="A closed ring: first and last positions equal.")]


class Polygon(BaseModel):
    """A GeoJSON Polygon (RFC 7946): an outer ring, then holes."""

    model_config = ConfigDict(extra="allow", defer_build=True)  # built when a clip is posted

    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1)


class MultiPolygon(BaseModel):
    """A GeoJSON MultiPolygon (RFC 7946)."""

    model_config = ConfigDict(extra="allow", defer_build=True)  # built when a clip is posted

    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1)


Geometry = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


def _rings(geometry: Polygon | MultiPolygon) -> list[list[list[float]]]:
    if isinstance(geometry, Polygon):
        return geometry.coordinates
    return [ring for polygon in geometry.coordinates for ring in polygon]


class Clip(RasterArgs):
    """Cut a raster to a bounding box or to a GeoJSON polygon.

    `bbox` is [min x, min y, max x, max y] in `crs` (default: the raster's
    own). `geometry` is a GeoJSON Polygon or MultiPolygon in `crs` (default:
    EPSG:4326, longitude and latitude, as GeoJSON says); pixels whose centre
    is outside it become nodata, or masked when the raster has no nodata.
    Pixels are copied as they are (no resampling): the result is the smallest
    whole-pixel window of the raster that covers the box or the polygon.
    """

    name: ClassVar[str] = "clip"
    crs_arguments: ClassVar[tuple[str, ...]] = ("crs",)
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"bbox": [600000, 5100000, 620000, 5120000]},
                {"bbox": [10.2, 46.2, 10.5, 46.4], "crs": "EPSG:4326"},
                {
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[10.2, 46.2], [10.5, 46.2], [10.4, 46.5], [10.2, 46.2]]],
                    }
                },
            ]
        }
    )

    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="[min x, min y, max x, max y] in crs (default: the raster's CRS)."
    )
    geometry: Geometry | None = Field(
        default=None, description="A GeoJSON Polygon or MultiPolygon in crs (default: EPSG:4326, as GeoJSON says)."
    )
    crs: CrsText | None = Field(
        default=None, description="CRS of bbox or geometry. Default: the raster's for bbox, EPSG:4326 for geometry."
    )

    @model_validator(mode="after")
    def _one_region(self) -> Self:
        if (self.bbox is None) == (self.geometry is None):
            raise ValueError("give either bbox or geometry")
        if self.bbox is not None:
            min_x, min_y, max_x, max_y = self.bbox
            if not all(math.isfinite(value) for value in self.bbox) or min_x >= max_x or min_y >= max_y:
                raise ValueError("bbox is [min x, min y, max x, max y] with min < max")
        if self.geometry is not None:
            rings = _rings(self.geometry)
            if sum(len(ring) for ring in rings) > MAX_POSITIONS:
                raise ValueError(f"the geometry has more than {MAX_POSITIONS} positions")
            if any(ring[0][:2] != ring[-1][:2] for ring in rings):
                raise ValueError("every ring of the geometry must be closed (first position = last)")
        return self
