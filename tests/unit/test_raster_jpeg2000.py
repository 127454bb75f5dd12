"""JPEG 2000 rasters (GDAL's JP2OpenJPEG driver): a Sentinel-2-like band is
reprojected, clipped and made a COG with the same pixels as its GeoTIFF twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rio_cogeo.cogeo import cog_validate

from pixelmill.catalog import registry
from pixelmill.errors import ImageTooLarge
from pixelmill.transforms import Limits
from tests.imagegen import jp2_header_bytes
from tests.rastergen import ALPS_UTM32, open_raster_bytes, sentinel2_like_jp2


@pytest.fixture(scope="module")
def band(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A Sentinel-2-like JPEG 2000 band and the same raster as a GeoTIFF."""
    path = tmp_path_factory.mktemp("s2") / "T32TNS_B04.jp2"
    sentinel2_like_jp2(path)
    return path.read_bytes(), path.with_suffix(".tif").read_bytes()


def test_raster_info_reads_the_crs_from_the_jpeg_2000_boxes(band: tuple[bytes, bytes], limits: Limits) -> None:
    info = registry.load("raster_info", {"statistics": False}).run(band[0], limits).document
    assert info is not None
    assert (info["driver"], info["width"], info["height"], info["crs"]) == (
        "JP2OpenJPEG",
        1200,
        1000,
        "EPSG:32632",
    )


@pytest.mark.parametrize(
    ("function_type", "function_args"),
    [
        ("change_projection", {"target_srs": "EPSG:3857", "resampling": "bilinear"}),
        ("clip", {"bbox": [600_000, 5_120_000, 630_000, 5_150_000], "crs": "EPSG:32632"}),
    ],
)
def test_a_jpeg_2000_band_gives_what_its_geotiff_twin_gives(
    band: tuple[bytes, bytes], function_type: str, function_args: dict[str, object], limits: Limits
) -> None:
    # Given the same band as JPEG 2000 (lossless) and as GeoTIFF
    jp2, geotiff = band
    function = registry.load(function_type, function_args)
    # When both are processed, Then the results are the same raster
    with (
        open_raster_bytes(function.run(jp2, limits).data) as ours,
        open_raster_bytes(function.run(geotiff, limits).data) as reference,
    ):
        assert (ours.crs, ours.transform, ours.dtypes) == (reference.crs, reference.transform, reference.dtypes)
        assert np.array_equal(ours.read(), reference.read())


def test_a_jpeg_2000_band_becomes_a_valid_cog(band: tuple[bytes, bytes], limits: Limits, tmp_path: Path) -> None:
    rendered = registry.load("to_cog", {"compression": "zstd"}).run(band[0], limits)
    (tmp_path / "cog.tif").write_bytes(rendered.data)
    valid, errors, _warnings = cog_validate(str(tmp_path / "cog.tif"), quiet=True)
    assert valid, errors
    with open_raster_bytes(rendered.data) as cog, open_raster_bytes(band[1]) as twin:
        assert cog.bounds == pytest.approx(ALPS_UTM32)
        assert np.array_equal(cog.read(), twin.read())


def test_a_jpeg_2000_bomb_is_refused_before_reading(limits: Limits) -> None:
    # Given a 64 px codestream whose header claims 50000×50000 × 3 bands (7.5 G pixels)
    with pytest.raises(ImageTooLarge, match="50000×50000 pixels × 3 bands"):
        registry.load("raster_info", {}).run(jp2_header_bytes(50_000, 50_000), limits)
