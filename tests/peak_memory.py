"""Peak memory of a raster function in a fresh interpreter (Linux).

GDAL allocates natively (tracemalloc sees none of it), so the measure is the
process's resident set: once Python, the libraries and GDAL are loaded and
warmed up on a small raster, the kernel's high-water mark is reset
(``/proc/self/clear_refs``) and read again (``VmHWM``) after the run. (``ru_maxrss``
would not do: it keeps the parent's peak across fork and exec.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, sys, tempfile, time
from pathlib import Path
from pixelmill.catalog import registry
from pixelmill.transforms import Limits
from tests.rastergen import write_raster

source, name, args, budget, max_pixels = sys.argv[1:6]
limits = Limits(1, 1, 1, frozenset(), int(max_pixels), int(budget), 1, 2**40, 1000)
if name == IN_MEMORY:
    function = InMemoryReprojection(json.loads(args)["target_srs"])
else:
    function = registry.load(name, json.loads(args))
with tempfile.TemporaryDirectory() as directory:
    # Warm up: load every library and GDAL's drivers and PROJ database on a small raster.
    small = Path(directory) / "small.tif"
    write_raster(small, 64, 64)
    (Path(directory) / "w0").mkdir()
    function.run_file(small, Path(directory) / "w0", limits)
    (Path(directory) / "w1").mkdir()
    before = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
    started = time.perf_counter()
    function.run_file(Path(source), Path(directory) / "w1", limits)
    seconds = time.perf_counter() - started
    after = status("VmHWM")
print(json.dumps({"before_kib": before, "after_kib": after, "seconds": seconds}))
"""

_STATUS = """
from pathlib import Path

IN_MEMORY = "in-memory reproject"


class InMemoryReprojection:
    # The baseline: the whole raster read, reprojected and written in one piece.
    def __init__(self, target_srs):
        self.target_srs = target_srs

    def run_file(self, source, workdir, limits):
        import numpy, rasterio
        from rasterio.warp import calculate_default_transform, reproject

        with rasterio.open(source) as src:
            transform, width, height = calculate_default_transform(
                src.crs, self.target_srs, src.width, src.height, *src.bounds
            )
            data = src.read()
            out = numpy.zeros((src.count, height, width), dtype=data.dtype)
            reproject(data, out, src_transform=src.transform, src_crs=src.crs, src_nodata=src.nodata,
                      dst_transform=transform, dst_crs=self.target_srs, num_threads=2)
            profile = dict(src.profile, crs=self.target_srs, transform=transform, width=width, height=height,
                           tiled=True, blockxsize=512, blockysize=512, compress="deflate")
            with rasterio.open(workdir / "result.tif", "w", **profile) as dst:
                dst.write(out)

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)
"""


IN_MEMORY = "in-memory reproject"
"""A ``function_type`` for ``measure``: the baseline, rasterio's reproject of the whole raster at once."""


@dataclass(frozen=True)
class Measurement:
    """Peak resident memory of one run, in MiB, and its duration."""

    baseline_mib: float
    """Resident memory once everything was loaded and warmed up, before the measured run."""
    peak_mib: float
    """The highest resident memory during the run."""
    seconds: float

    @property
    def growth_mib(self) -> float:
        """How much the run itself added to the process's peak."""
        return self.peak_mib - self.baseline_mib


def measure(
    source: Path,
    function_type: str,
    function_args: dict[str, Any],
    *,
    budget_bytes: int,
    gdal_cachemax_mb: int,
    max_raster_pixels: int = 10**12,
) -> Measurement:
    """Run one raster function on ``source`` in a fresh interpreter with this
    working memory and GDAL cache, and measure its peak memory."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}",
        "GDAL_CACHEMAX": str(gdal_cachemax_mb),
        "GDAL_NUM_THREADS": "ALL_CPUS",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            _STATUS + _CHILD,
            str(source),
            function_type,
            json.dumps(function_args),
            str(budget_bytes),
            str(max_raster_pixels),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return Measurement(result["before_kib"] / 1024, result["after_kib"] / 1024, result["seconds"])
