"""The settings model reads the environment the template sets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pixelmill.settings import Settings


def test_defaults_are_the_documented_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()

    assert settings.max_upload_bytes == 50 * 1024 * 1024
    assert settings.max_receive_count == 3
    assert "JPEG" in settings.allowed_input_formats


def test_environment_overrides_and_formats_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELMILL_ALLOWED_INPUT_FORMATS", "jpeg, png")
    monkeypatch.setenv("PIXELMILL_MAX_SOURCE_PIXELS", "1000")

    settings = Settings()

    assert settings.allowed_input_formats == frozenset({"JPEG", "PNG"})
    assert settings.max_source_pixels == 1000


def test_nonsense_values_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELMILL_MAX_UPLOAD_BYTES", "-1")

    with pytest.raises(ValidationError, match="max_upload_bytes"):
        Settings()
