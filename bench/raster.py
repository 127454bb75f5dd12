"""Raster benchmarks: pixelmill's windowed functions against in-memory rasterio baselines.

Times are ratios (baseline time / pixelmill time) from interleaved runs in the
same process, so a busy machine slows both alike. Memory is the peak resident
memory a run adds in a fresh interpreter (tests/peak_memory.py), natively
allocated GDAL memory included. Run with ``make bench``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.warp import Resampling, calculate_default_transform, reproject

from bench.timing import interleaved_medians
from pixelmill.catalog import registry
from pixelmill.transforms import Limits
from tests.peak_memory import IN_MEMORY, ROOT, measure
from tests.rastergen import write_raster

ROUNDS = 3
MIB = 1024 * 1024


def compare(name: str, baseline: Callable[[], object], ours: Callable[[], object]) -> None:
    """Interleave the two so both see the same machine load; print the ratio of medians."""
    base, mine = interleaved_medians(baseline, ours, ROUNDS)
    print(f"{name:<58} {base / mine:5.2f}x   (baseline {base:6.2f} s, pixelmill {mine:6.2f} s)")  # noqa: T201


def in_memory_reproject(source: Path, destination: Path, target: str) -> None:
    """The baseline: the whole raster read, reprojected in one call and written."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(src.crs, target, src.width, src.height, *src.bounds)
        data = src.read()
        out = np.zeros((src.count, height, width), dtype=data.dtype)
        reproject(
            data,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=transform,
            dst_crs=target,
            resampling=Resampling.bilinear,
            num_threads=os.cpu_count() or 1,
        )
        profile = dict(src.profile, crs=target, transform=transform, width=width, height=height)
        profile.update(tiled=True, blockxsize=512, blockysize=512, compress="deflate", num_threads="ALL_CPUS")
        with rasterio.open(destination, "w", **profile) as dst:
            dst.write(out)


def main() -> None:
    os.environ.setdefault("GDAL_NUM_THREADS", "ALL_CPUS")
    limits = Limits(1, 1, 1, frozenset(), 10**12, 512 * MIB, 1, 2**40, 1000)
    print(f"pixelmill raster benchmark: median of {ROUNDS} interleaved rounds; ratio = baseline / pixelmill")  # noqa: T201
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        source = work / "source.tif"
        write_raster(source, 4000, 4000, bands=3, dtype="uint8")

        def ours(name: str, args: dict[str, object]) -> Callable[[], object]:
            function = registry.load(name, args)

            def run() -> object:
                out = work / f"out-{time.monotonic_ns()}"
                out.mkdir()
                return function.run_file(source, out, limits)

            return run

        # 1. change_projection, windowed (WarpedVRT read in strips) vs rasterio's in-memory reproject.
        compare(
            "change_projection 4000² ×3 uint8 4326→3857 (vs in-memory)",
            lambda: in_memory_reproject(source, work / "baseline.tif", "EPSG:3857"),
            ours("change_projection", {"target_srs": "EPSG:3857", "resampling": "bilinear"}),
        )

        # 2. to_cog with target_srs: our windowed warp then a plain COG copy, vs the COG driver's own TARGET_SRS.
        def cog_driver_warp() -> None:
            rasterio.shutil.copy(
                source,
                work / "cog-baseline.tif",
                driver="COG",
                COMPRESS="DEFLATE",
                TARGET_SRS="EPSG:3857",
                RESAMPLING="BILINEAR",
                OVERVIEW_RESAMPLING="AVERAGE",
                NUM_THREADS="ALL_CPUS",
                ADD_ALPHA="NO",
            )

        compare(
            "to_cog + target_srs 4000² ×3 (vs COG driver's TARGET_SRS)",
            cog_driver_warp,
            ours("to_cog", {"target_srs": "EPSG:3857", "resampling": "bilinear"}),
        )

        # 3. Memory: a raster several times the working memory, windowed vs in memory.
        budget_mib, cache_mb = 64, 64
        large = work / "large.tif"
        write_raster(large, 8192, 8192, bands=3, dtype="uint8")
        raster_mib = 8192 * 8192 * 3 / MIB
        print(  # noqa: T201
            f"peak memory added, {raster_mib:.0f} MiB raster (8192² ×3 uint8) → EPSG:3857, "
            f"RasterMemoryMiB={budget_mib}, GDAL_CACHEMAX={cache_mb}:"
        )
        args = {"target_srs": "EPSG:3857", "resampling": "bilinear"}
        for label, name in (("pixelmill change_projection", "change_projection"), ("in-memory reproject", IN_MEMORY)):
            run = measure(large, name, args, budget_bytes=budget_mib * MIB, gdal_cachemax_mb=cache_mb)
            print(f"  {label:<30} {run.growth_mib:7.0f} MiB in {run.seconds:5.1f} s")  # noqa: T201
        others: list[tuple[str, dict[str, object]]] = [("raster_info", {}), ("to_cog", {})]
        for name, function_args in others:
            run = measure(large, name, function_args, budget_bytes=budget_mib * MIB, gdal_cachemax_mb=cache_mb)
            print(f"  pixelmill {name:<20} {run.growth_mib:7.0f} MiB in {run.seconds:5.1f} s")  # noqa: T201

    # 4. A CRS argument: the API checks the allowlist (no rasterio); the worker asks PROJ.
    code = (
        "import time, json; import pixelmill.dal; from pixelmill.catalog import registry; "
        "args = {'target_srs': 'EPSG:3857'}; t = [time.perf_counter()]; "
        "registry.parse('change_projection', args); t.append(time.perf_counter()); "
        "registry.load('change_projection', args); t.append(time.perf_counter()); "
        "registry.load('change_projection', {'target_srs': 'EPSG:32633'}); t.append(time.perf_counter()); "
        "print(' '.join(f'{(b - a) * 1000:.1f}' for a, b in zip(t, t[1:])))"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}"}
    api, first, then = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    print(  # noqa: T201
        f"target_srs: the API's check {api} ms (allowlist, no rasterio); the worker's first {first} ms "
        f"(imports rasterio, asks PROJ), then {then} ms"
    )


if __name__ == "__main__":
    main()
