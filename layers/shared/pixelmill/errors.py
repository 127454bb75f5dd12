"""Domain errors. The API maps them to HTTP statuses in one table; the worker
decides from them whether a task fails for good or its message is retried."""

from __future__ import annotations

import re
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


class Forbidden(PixelmillError):
    """The request is signed, but by no principal that can own data (e.g. a federated user)."""

    code = "forbidden"


class InvalidSignature(Forbidden):
    """An image URL whose signature is missing, wrong or expired."""

    code = "invalid_signature"


class NotFound(PixelmillError):
    """The task or image asked for does not exist."""

    code = "not_found"


class QuotaExceeded(PixelmillError):
    """The caller has as many unfinished tasks as it may: nothing was created; retry later."""

    code = "quota_exceeded"
    retry_after_seconds = 30


class TaskExists(PixelmillError):
    """A task with this id is already stored: the id was derived from something
    (an upload) that has been seen before."""

    code = "task_exists"


class QueueUnavailable(PixelmillError):
    """The task could not be queued; nothing was kept, the client may retry."""

    code = "queue_unavailable"


class StoreUnavailable(PixelmillError):
    """A store (table, bucket, queue) could not be reached or refused a call: worth a retry."""

    code = "store_unavailable"


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


class ResponseTooLarge(ProcessingError):
    """A rendered image too large for a Lambda response (6 MB, base64-encoded)."""

    code = "response_too_large"


class TaskTimeout(ProcessingError):
    """The transform ran past the per-task processing timeout."""

    code = "timeout"


# What a person must never read in a task's error: Python reprs (<_io.BytesIO object at 0x…>),
# memory addresses and paths of the worker's own files.
_REPR = re.compile(r"<[^<>]*(?:\bobject\b|\bat 0x)[^<>]*>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_PATH = re.compile(r"""['"]?(?<![\w.])(?:/[\w.+-]+){2,}/?['"]?""")
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
_SPACE = re.compile(r"\s+")

MAX_REASON_LENGTH = 300

_READABLE = (OSError, SyntaxError, EOFError, ValueError, RuntimeError)
"""Errors whose text is a sentence (Pillow's "image file is truncated" …); the others'
(KeyError, struct.error, TypeError …) is Python's own and says nothing to a user."""


def readable(error: BaseException, fallback: str, *, sentence: bool = False) -> str:
    """A reason a person can read for ``error``: its text without reprs, addresses or
    file paths when it is one of the errors whose text is a sentence (or ``sentence``
    says it is, e.g. an AWS error), else ``fallback``."""
    if isinstance(error, PixelmillError):
        return error.message
    if not (sentence or isinstance(error, _READABLE)):
        return fallback
    text = _ERRNO.sub("", str(error))
    text = _REPR.sub("the data", text)
    text = _ADDRESS.sub("", text)
    text = _PATH.sub("a file", text)
    text = _SPACE.sub(" ", text).strip(" :;,")
    if not text or "Traceback" in text:
        return fallback
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 3] + "..."
