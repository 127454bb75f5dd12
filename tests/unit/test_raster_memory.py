"""A raster several times larger than the working memory is processed within it.

Measured in a fresh interpreter (tests/peak_memory.py): the peak resident
memory a run adds, natively allocated by GDAL included.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peak_memory import measure
from tests.rastergen import write_raster

MIB = 1024 * 1024
BUDGET_MIB = 16
GDAL_CACHE_MB = 8
# What a run needs beside its pixel budget and GDAL's cache: compression buffers, the
# warper's per-thread state, the allocator's slack. Measured at 10-20 MiB; it does not
# grow with the raster (bench/raster.py shows the same figure for a 4× larger one).
OVERHEAD_MIB = 24


@pytest.fixture(scope="module")
def large_raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4096×4096 float32: 64 MiB of pixels, four times the working memory."""
    path = tmp_path_factory.mktemp("large") / "large.tif"
    write_raster(path, 4096, 4096, dtype="float32", nodata=-9999.0)
    return path


@pytest.mark.parametrize(
    ("function_type", "function_args"),
    [
        ("change_projection", {"target_srs": "EPSG:3857", "resampling": "bilinear"}),
        ("raster_info", {}),
    ],
)
def test_a_raster_four_times_the_working_memory_stays_within_it(
    large_raster: Path, function_type: str, function_args: dict[str, object]
) -> None:
    # Given a 64 MiB raster (the reprojected result is larger still) and 16 MiB of working memory
    raster_mib = 4096 * 4096 * 4 / MIB
    assert raster_mib >= 4 * BUDGET_MIB
    # When the function runs on it
    run = measure(
        large_raster, function_type, function_args, budget_bytes=BUDGET_MIB * MIB, gdal_cachemax_mb=GDAL_CACHE_MB
    )
    # Then the memory it adds is its budget and GDAL's cache, not the raster
    assert run.growth_mib <= BUDGET_MIB + GDAL_CACHE_MB + OVERHEAD_MIB, run
    assert run.growth_mib < raster_mib, run
