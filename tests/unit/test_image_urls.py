"""Signed image URLs: the step grammar, the signature and the Accept negotiation."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import cast

import pytest

from pixelmill.catalog import registry
from pixelmill.catalog.convert import Convert
from pixelmill.catalog.resize import Resize
from pixelmill.errors import InvalidRequest, InvalidSignature, NotFound
from pixelmill.logic.image_urls import (
    RenderedImage,
    check_steps,
    create_url,
    negotiate_format,
    render,
    sign,
    source_expiry,
    url_pipeline,
    verify,
)
from pixelmill.models.ids import image_key
from pixelmill.models.image_url import (
    MAX_URL_STEPS,
    ImagePath,
    ImageUrlCreate,
    UrlStep,
    UrlStepCreate,
    parse_image_path,
    url_value,
)
from pixelmill.settings import Settings
from tests.imagegen import image_bytes
from tests.unit.memory_stores import MemoryImageStore, memory_stores

OWNER = "AIDAALICE000000000001"
IMAGE = "0197e45a-8fc5-7848-9c9f-56cc0ae0a087"
KEY = b"k" * 64


def signed(steps: str, expires: int | None = None) -> str:
    return (f"expires:{expires}/" if expires is not None else "") + f"{steps}/{OWNER}/{IMAGE}"


def test_steps_parse_into_names_and_text_arguments() -> None:
    path = parse_image_path(signed("resize:width=800,fit=cover/grayscale/convert:format=webp", expires=1767225600))
    assert path.owner == OWNER
    assert path.image_id == IMAGE
    assert path.expires == 1767225600
    assert path.steps == (
        UrlStep("resize", {"width": "800", "fit": "cover"}),
        UrlStep("grayscale"),
        UrlStep("convert", {"format": "webp"}),
    )


def test_formatting_reads_back_the_same_path_with_escapes() -> None:
    # Given a value with every separator in it
    path = ImagePath(OWNER, IMAGE, (UrlStep("convert", {"format": "a,b/c=d:e%"}),), expires=5)
    text = path.format()
    # Then the separators are percent-encoded and parsing gives the value back
    assert text == f"expires:5/convert:format=a%2Cb%2Fc%3Dd%3Ae%25/{OWNER}/{IMAGE}"
    assert parse_image_path(text) == path


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ("resize:width", "steps[0]"),  # no value
        ("resize:width=800,width=900", "steps[0].width"),  # repeated key
        ("Resize:width=800", "steps[0]"),  # names are lower case
        ("resize:width=8 0", "steps[0]"),  # unescaped space
        ("resize:width=%FF", "steps[0].width"),  # not UTF-8
        ("resize:", "steps[0]"),
    ],
)
def test_malformed_steps_are_refused_naming_the_step(steps: str, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_image_path(signed(steps))
    assert refused.value.errors[0].field == field


def test_too_many_steps_and_bad_owner_or_image_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="at most"):
        parse_image_path(signed("/".join(["grayscale"] * (MAX_URL_STEPS + 1))))
    with pytest.raises(InvalidRequest, match="owner"):
        parse_image_path(f"grayscale/not-a-tenant/{IMAGE}")
    with pytest.raises(InvalidRequest, match="image_id"):
        parse_image_path(f"grayscale/{OWNER}/secrets")
    with pytest.raises(InvalidRequest, match="expires"):
        parse_image_path(signed("grayscale").replace("grayscale", "expires:soon/grayscale"))


def test_steps_are_checked_by_the_catalogs_models() -> None:
    pipeline = url_pipeline(parse_image_path(signed("resize:width=800,upscale=true/convert:format=webp")).steps, "jpeg")
    resize, convert = pipeline.functions
    assert isinstance(resize, Resize)
    assert isinstance(convert, Convert)
    assert (resize.width, resize.upscale, convert.format) == (800, True, "webp")
    for steps, field in [
        ("resize:width=0", "steps[0].width"),
        ("nosuch", "steps[0]"),
        ("change_projection:target_srs=EPSG%3A3857", "steps[0]"),  # raster
        ("pipeline", "steps[0]"),
        ("resize:width=800,colour=red", "steps[0].colour"),
    ]:
        with pytest.raises(InvalidRequest) as refused:
            check_steps(parse_image_path(signed(steps)))
        assert refused.value.errors[0].field == field, steps


def test_auto_format_must_suit_every_format_it_may_become() -> None:
    check_steps(parse_image_path(signed("convert:format=auto,quality=70")))
    with pytest.raises(InvalidRequest, match="lossless"):
        check_steps(parse_image_path(signed("convert:format=auto,lossless=true")))


def test_the_catalog_marks_what_urls_can_use() -> None:
    usable = {info.name: info.usable_in_urls for info in registry.catalog()}
    assert usable["resize"]
    assert usable["convert"]
    assert usable["grayscale"]
    assert not usable["pipeline"]
    assert not usable["change_projection"]
    assert not usable["raster_info"]


def test_url_values_are_scalars_only() -> None:
    assert url_value(True, "x") == "true"
    assert url_value(800, "x") == "800"
    assert url_value(0.5, "x") == "0.5"
    for value in ([1, 2], {"a": 1}, ""):
        with pytest.raises(InvalidRequest):
            url_value(value, "steps[0].x")


# ---------------------------------------------------------------- signing


def test_a_signature_verifies_with_its_key_only() -> None:
    text = signed("resize:width=800")
    signature = sign(text, KEY)
    assert len(signature) == 43
    assert "=" not in signature
    verify(signature, text, [KEY], now=0)
    verify(signature, text, [b"new" * 20, KEY], now=0)  # the previous key, after a rotation
    for wrong_signature, wrong_text, keys in [
        ("", text, [KEY]),
        (signature, signed("resize:width=801"), [KEY]),
        (signature, text, [b"other"]),
        (signature[:-1] + ("A" if signature[-1] != "A" else "B"), text, [KEY]),
    ]:
        with pytest.raises(InvalidSignature, match="missing or wrong"):
            verify(wrong_signature, wrong_text, keys, now=0)


def test_the_expiry_is_signed_and_enforced() -> None:
    text = signed("grayscale", expires=1000)
    signature = sign(text, KEY)
    verify(signature, text, [KEY], now=999)
    with pytest.raises(InvalidSignature, match="expired"):
        verify(signature, text, [KEY], now=1000)
    # Moving the expiry breaks the signature.
    with pytest.raises(InvalidSignature, match="missing or wrong"):
        verify(signature, signed("grayscale", expires=99999), [KEY], now=999)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a record of every comparison verify makes
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)  # the module image_urls calls it from
    text = signed("grayscale")
    # When a wrong signature is checked against two keys
    with pytest.raises(InvalidSignature):
        verify("x" * 43, text, [KEY, b"other"], now=0)
    # Then each key was compared with compare_digest, none skipped and no == on the strings
    assert [a for a, _ in calls] == [sign(text, KEY).encode(), sign(text, b"other").encode()]


# ---------------------------------------------------------------- Accept


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "avif"),  # Chrome
        ("image/webp,*/*", "webp"),
        ("image/avif;q=0,image/webp", "webp"),
        ("IMAGE/WEBP", "webp"),
        ("image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5", "jpeg"),  # Safari before AVIF
        ("*/*", "jpeg"),
        ("", "jpeg"),
        (None, "jpeg"),
        ("image/webp;q=abc", "jpeg"),
    ],
)
def test_auto_format_follows_accept(accept: str | None, expected: str) -> None:
    assert negotiate_format(accept) == expected


def test_json_arguments_keep_their_types_on_the_way_to_the_url() -> None:
    # 1 stays a number and true a boolean (a union tried left to right would swap them)
    step = UrlStepCreate.model_validate({"function_type": "resize", "function_args": {"width": 1, "upscale": True}})
    assert [url_value(value, key) for key, value in step.function_args.items()] == ["1", "true"]


def test_a_sources_expiry_is_s3s_lifecycle_rule_for_its_prefix() -> None:
    settings = Settings(result_retention_days=7, upload_retention_days=30)
    written = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    # S3 adds the rule's days, then rounds up to the next midnight UTC
    assert source_expiry(f"results/{OWNER}/res-x", written, settings) == datetime(2026, 12, 10, tzinfo=UTC).timestamp()
    assert source_expiry(f"uploads/{OWNER}/{IMAGE}", written, settings) == datetime(2027, 1, 2, tzinfo=UTC).timestamp()
    assert source_expiry("incoming/a.png", written, settings) == datetime(2027, 1, 2, tzinfo=UTC).timestamp()
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    assert source_expiry("results/x", midnight, settings) == datetime(2026, 12, 9, tzinfo=UTC).timestamp()


def test_a_render_is_kept_by_caches_at_most_until_its_source_expires() -> None:
    # Given alice's result, written at midnight and kept 7 days, and a URL for it
    settings = Settings(result_retention_days=7, image_cache_max_age_seconds=86_400)
    stores = memory_stores()
    images = cast(MemoryImageStore, stores.images)
    result = "res-01KAB6Q2Z8M3N4P5Q6R7S8T9VW"
    written = datetime(2026, 12, 2, tzinfo=UTC)
    images.put(image_key(result, OWNER), image_bytes("PNG", 64, 48), "image/png")
    images.written[image_key(result, OWNER)] = written
    step = UrlStepCreate(function_type="grayscale")
    url = create_url(ImageUrlCreate(image_id=result, steps=[step]), OWNER, stores, settings, "https://cdn.test")
    expiry = datetime(2026, 12, 9, tzinfo=UTC).timestamp()

    def at(seconds_before_expiry: float) -> RenderedImage:
        return render(url.path, None, stores, settings, now=expiry - seconds_before_expiry)

    # A week ahead: the configured max-age (a render, then hits); an hour ahead: the hour
    assert [(at(ahead).cache_hit, at(ahead).max_age) for ahead in (7 * 86_400, 3_600)] == [
        (False, 86_400),
        (True, 3_600),
    ]
    # Then the image is not found: from the cache, or from the source S3 has not removed yet
    with pytest.raises(NotFound, match="expired"):
        at(-60)
    images.objects = {key: value for key, value in images.objects.items() if not key.startswith("cache/")}
    with pytest.raises(NotFound, match="expired"):
        at(-60)
    assert not any(key.startswith("cache/") for key in images.objects)
