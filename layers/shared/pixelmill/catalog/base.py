"""What every entry of the catalog is: a pydantic model of a function's arguments.

The model is the function's JSON Schema and its validation at POST time. It
imports no imaging library: the API, ingest and sweeper load it without
Pillow, rasterio or numpy. The implementation that runs it
(``pixelmill.transforms``) subclasses it and is loaded by the processor only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pixelmill.catalog.limits import Limits
    from pixelmill.catalog.registry import FunctionRegistry


class FunctionArgs(BaseModel):
    """Base of every catalog entry: its fields are the function's arguments.

    The class docstring's first paragraph is the catalog description.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: ClassVar[str]
    kind: ClassVar[str] = "photo"
    usable_in_urls: ClassVar[bool] = False
    """Whether signed image URLs (/img/...) may use this function as a step."""

    def check_arguments(self, limits: Limits) -> None:
        """Refuse, from the arguments alone, work over ``limits`` (LimitExceeded):
        called at the API, where the source is not known yet (default: nothing to check)."""

    @classmethod
    def on_registry_closed(cls, registry: FunctionRegistry) -> None:
        """Called once every function is registered (a pipeline builds its step union here)."""
