"""Domain errors. The API maps them to HTTP statuses in one table; the worker
decides from them whether a task fails for good or its message is retried."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One bad field of a request: where it is (dotted path) and what is wrong."""

    field: str
    message: str


class PixelmillError(Exception):
    """Base of every error pixelmill raises on purpose."""

    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(PixelmillError):
    """The client sent something we refuse; ``errors`` names each bad field."""

    code = "invalid_request"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidRequest:
        """An error about a single field."""
        return cls(f"{field}: {message}", [FieldError(field, message)])


class NotFound(PixelmillError):
    """The task or image asked for does not exist."""

    code = "not_found"


class TaskExists(PixelmillError):
    """A task with this id is already stored: the id was derived from something
    (an upload) that has been seen before."""

    code = "task_exists"


class QueueUnavailable(PixelmillError):
    """The task could not be queued; nothing was kept, the client may retry."""

    code = "queue_unavailable"


class ProcessingError(PixelmillError):
    """A task cannot succeed however often it is retried: it ends ``failed``.

    ``code`` is machine-readable (``image_too_large``, ``unsupported_image`` …),
    the message is for a person.
    """

    code = "processing_failed"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ImageTooLarge(ProcessingError):
    """The source (bytes or pixels) or the result (pixels) is over a limit."""

    code = "image_too_large"


class LimitExceeded(ImageTooLarge):
    """The work a task asks for is over one of the configured bounds.

    ``code`` names the bound (``output_pixels_limit``, ``task_work_limit`` …) and
    the message gives the numbers and the deployment parameter that sets it.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class UnsupportedImage(ProcessingError):
    """The source is not an image we can decode, or of a format not allowed."""

    code = "unsupported_image"


class TaskTimeout(ProcessingError):
    """The transform ran past the per-task processing timeout."""

    code = "timeout"
