"""What every function of the catalog is: a pydantic model of its arguments
that knows how to turn a source image into a result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from pixelmill.settings import MIB, Settings

Progress = Callable[[int], None]
"""Called with a percentage (0..100) of the transform's own work as it goes."""


def no_progress(_percent: int) -> None:
    """A progress callback that reports nowhere."""


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


@dataclass(frozen=True)
class Rendered:
    """A transform's result: the bytes to store and how to describe them."""

    data: bytes
    content_type: str
    extension: str
    metadata: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    """A JSON result shown on the task itself (``raster_info``); ``data`` is the same JSON."""


@dataclass(frozen=True)
class RenderedFile:
    """A transform's result written to a file: rasters that need not fit in memory."""

    path: Path
    content_type: str
    extension: str
    metadata: dict[str, Any] | None = None

    def read(self) -> Rendered:
        """The same result in memory."""
        return Rendered(self.path.read_bytes(), self.content_type, self.extension, self.metadata)


class ImageFunction(BaseModel):
    """Base of every catalog entry. Subclasses declare their arguments as fields
    (that is their JSON Schema and their validation) and implement ``run``.

    The class docstring's first paragraph is the catalog description.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    kind: ClassVar[str] = "photo"
    usable_in_urls: ClassVar[bool] = False
    """Whether signed image URLs (/img/...) may use this function as a step."""

    def run(self, source: bytes, limits: Limits, progress: Progress = no_progress) -> Rendered:
        """Transform ``source`` (the uploaded file's bytes) into a result.

        Raises ``pixelmill.errors.ProcessingError`` (or a subclass) for anything
        that will not succeed on retry: undecodable input, limits exceeded.
        """
        raise NotImplementedError

    def run_file(
        self, source: Path, workdir: Path, limits: Limits, progress: Progress = no_progress
    ) -> Rendered | RenderedFile:
        """Transform the file at ``source``: the worker's entry point (sources are
        downloaded to ephemeral storage). A function whose result need not fit in
        memory writes it under ``workdir`` (an empty directory of its own) and
        returns a RenderedFile. The default runs ``run`` on the file's bytes.
        """
        return self.run(source.read_bytes(), limits, progress)

    def check_arguments(self, limits: Limits) -> None:
        """Refuse, from the arguments alone, work over ``limits`` (LimitExceeded):
        called at the API, where the source is not known yet (default: nothing to check)."""

    @classmethod
    def on_registry_closed(cls, registry: Any) -> None:
        """Called once every function is registered (a pipeline builds its step union here)."""
