"""Every AWS SDK error a store lets out becomes the domain's StoreUnavailable, with AWS's own text."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from pixelmill.errors import StoreUnavailable

SDK_ERRORS = (BotoCoreError, ClientError, Boto3Error)

C = TypeVar("C", bound=type)


def translate_sdk_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` raising StoreUnavailable where it raised an SDK error (a generator too)."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(*args, **kwargs)
            except SDK_ERRORS as error:
                raise StoreUnavailable(str(error)) from error

        return generator

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SDK_ERRORS as error:
            raise StoreUnavailable(str(error)) from error

    return call


def domain_errors(cls: C) -> C:
    """Class decorator: the public methods of ``cls`` raise StoreUnavailable where boto3 raised."""
    for name, attribute in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(attribute):
            setattr(cls, name, translate_sdk_errors(attribute))
    return cls
