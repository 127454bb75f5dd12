"""Error texts for users: never a Python repr, an address or a worker's path; GDAL
and PROJ text mapped to our own codes and messages."""

from __future__ import annotations

import io
import re

import pytest

from pixelmill.catalog import registry
from pixelmill.errors import ProcessingError, readable
from pixelmill.transforms import Limits
from pixelmill.transforms._raster import parse_crs
from tests.rastergen import raster_bytes

# What must never reach a user: reprs, addresses, our scratch paths, GDAL's and PROJ's vocabulary.
LEAKS = re.compile(r"<[^>]*object|0x[0-9a-f]{4,}|/tmp/|pixelmill-|Traceback|proj_create|PROJ:|CPLE_|GDAL error", re.I)


def failure(name: str, args: dict[str, object], source: bytes, limits: Limits) -> ProcessingError:
    with pytest.raises(ProcessingError) as caught:
        registry.load(name, args).run(source, limits)
    return caught.value


def test_an_unidentifiable_image_has_no_python_repr(limits: Limits) -> None:
    # Given JPEG magic bytes followed by garbage (Pillow's text: "cannot identify image file <_io.BytesIO …>")
    error = failure("thumbnail", {}, b"\xff\xd8\xff" + b"\x00garbage" * 40, limits)
    assert error.code == "unsupported_image"
    assert "could not be decoded" in error.message
    assert not LEAKS.search(error.message), error.message


def test_a_truncated_png_says_so_in_words(limits: Limits) -> None:
    from tests.imagegen import image_bytes

    data = image_bytes("PNG", 200, 200)
    error = failure("thumbnail", {"size": 16}, data[: len(data) // 2], limits)
    assert error.code == "unsupported_image"
    assert not LEAKS.search(error.message), error.message


def test_a_raster_gdal_cannot_open_gets_our_message(limits: Limits) -> None:
    error = failure("raster_info", {}, b"II*\x00 not really a TIFF at all", limits)
    assert error.code == "unsupported_image"
    assert error.message == "the TIFF file could not be opened as a raster: it is damaged or not a TIFF file GDAL reads"


def test_a_damaged_tile_is_mapped_to_our_code(limits: Limits) -> None:
    # Given a GeoTIFF whose header is intact but whose tiles are cut off
    data = raster_bytes(1024, 1024, bands=3, compress="deflate")
    error = failure("to_cog", {}, data[: len(data) * 2 // 3], limits)
    assert error.code == "raster_failed"
    assert not LEAKS.search(error.message), error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EPSG:999999", "EPSG:999999 is not a CRS PROJ knows (no such code)"),
        ("+proj=nonsense +ellps=WGS84", "not a CRS PROJ knows: the PROJ string could not be read"),
        ('GEOGCS["x"]', "not a CRS PROJ knows: the WKT could not be read"),
    ],
)
def test_proj_text_is_mapped_to_ours(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match=re.escape(expected)) as caught:
        parse_crs(text)
    assert not LEAKS.search(str(caught.value))


def test_readable_strips_reprs_addresses_and_paths() -> None:
    assert readable(OSError(f"cannot read {io.BytesIO()!r}"), "fallback") == "cannot read the data"
    assert readable(FileNotFoundError(2, "No such file", "/tmp/pixelmill-task-x/source"), "-") == "No such file: a file"
    # Errors whose text is Python's own (a repr of a key, a struct format) give the fallback
    assert readable(KeyError("width"), "fallback") == "fallback"
    assert readable(OSError("image file is truncated (3 bytes not processed)"), "-") == (
        "image file is truncated (3 bytes not processed)"
    )
