"""Fixtures of the unit tests."""

from __future__ import annotations

import pytest

from pixelmill.transforms.base import Limits

ALL_PHOTO_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "AVIF", "HEIF", "JPEG2000"})


@pytest.fixture
def limits() -> Limits:
    """Limits roomy enough for every test image (tests tighten them with dataclasses.replace)."""
    return Limits(
        max_source_pixels=40_000_000,
        max_output_pixels=20_000_000,
        max_animation_frames=50,
        allowed_input_formats=ALL_PHOTO_FORMATS,
        max_raster_pixels=200_000_000,
        raster_memory_bytes=64 * 1024 * 1024,
        max_task_work_pixels=200_000_000,
        task_memory_bytes=1024 * 1024 * 1024,
        max_raster_growth=16,
    )
