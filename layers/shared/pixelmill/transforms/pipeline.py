"""pipeline: several photo functions in one task (its implementation; the arguments are ``pixelmill.catalog.pipeline``)."""

from __future__ import annotations

from PIL import Image

from pixelmill.catalog import pipeline as arguments
from pixelmill.catalog import registry
from pixelmill.transforms._photo import PhotoFunction, Size

# The arguments' model is built on first use (its step union resolves in its own module): build it
# before this subclass, whose build reads it.
arguments.Pipeline.model_rebuild()


class Pipeline(arguments.Pipeline, PhotoFunction):
    """Runs ``pipeline``: each step by its own implementation, loaded from the registry."""

    @property
    def functions(self) -> list[PhotoFunction]:
        """The steps' implementations, in order."""
        functions = []
        for step in self.steps:
            function = registry.load(step.function_type, step.function_args.model_dump(exclude_unset=True))
            assert isinstance(function, PhotoFunction)  # the step union holds photo functions only
            functions.append(function)
        return functions

    def apply(self, image: Image.Image) -> Image.Image:
        """``image`` through every step."""
        for function in self.functions:
            image = function.apply(image)
        return image

    def apply_to_reduced(self, image: Image.Image, full_size: Size) -> Image.Image:
        """The first step on the reduced image, the others on its result."""
        first, *rest = self.functions
        image = first.apply_to_reduced(image, full_size)
        for function in rest:
            image = function.apply(image)
        return image
