"""The work limits a function enforces, from the settings: the API checks what the
arguments alone decide against them, the worker the rest once it sees the source."""

from __future__ import annotations

from dataclasses import dataclass

from pixelmill.settings import MIB, Settings


@dataclass(frozen=True)
class Limits:
    """The safety limits a transform enforces, taken from the settings."""

    max_source_pixels: int
    max_output_pixels: int
    max_animation_frames: int
    allowed_input_formats: frozenset[str]
    max_raster_pixels: int
    """Largest raster, source or result, as width × height × bands."""
    raster_memory_bytes: int
    """Working memory a raster function may use for pixels: it works window by window within it."""
    max_task_work_pixels: int
    """Most pixels a photo task may make: decoded source and every image made on the way."""
    task_memory_bytes: int
    """Memory a task may use, counted in decoded bytes."""
    max_raster_growth: int
    """How many times the source's pixels a raster result may have."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits configured for this deployment."""
        return cls(
            max_source_pixels=settings.max_source_pixels,
            max_output_pixels=settings.max_output_pixels,
            max_animation_frames=settings.max_animation_frames,
            allowed_input_formats=settings.allowed_input_formats,
            max_raster_pixels=settings.max_raster_pixels,
            raster_memory_bytes=settings.raster_memory_mib * MIB,
            max_task_work_pixels=settings.max_task_work_pixels,
            task_memory_bytes=settings.task_memory_mib * MIB,
            max_raster_growth=settings.max_raster_growth,
        )
