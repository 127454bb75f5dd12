"""What every function's implementation is: its argument model (from
``pixelmill.catalog``) that knows how to turn a source image into a result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelmill.catalog.base import FunctionArgs
from pixelmill.catalog.limits import Limits

__all__ = ["ImageFunction", "Limits", "Progress", "Rendered", "RenderedFile", "no_progress"]

Progress = Callable[[int], None]
"""Called with a percentage (0..100) of the transform's own work as it goes."""


def no_progress(_percent: int) -> None:
    """A progress callback that reports nowhere."""


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


class ImageFunction(FunctionArgs):
    """Base of every implementation. An implementation subclasses its argument
    model in ``pixelmill.catalog`` and this (through ``PhotoFunction`` or
    ``RasterFunction``), and implements ``run``.
    """

    def check_with_libraries(self) -> None:
        """Checks of the arguments that need the imaging libraries, made when the
        worker loads the function: InvalidRequest naming the field (default: none)."""

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
