"""Task and image ids: format, order, and confinement to our S3 prefixes."""

from __future__ import annotations

import re
import uuid

import pytest
from pydantic import ValidationError

from pixelmill.models.ids import (
    IMAGE_ID_PATTERN,
    INCOMING_ID_PATTERN,
    TASK_ID_PATTERN,
    UPLOAD_ID_PATTERN,
    image_key,
    incoming_image_id,
    new_image_id,
    new_task_id,
    owner_of_upload_key,
    render_cache_prefix,
    result_image_id,
)
from pixelmill.models.task import TaskCreate


def test_task_ids_are_ulids_that_sort_by_creation_time() -> None:
    ids = [new_task_id(now_ms=ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]

    assert all(re.fullmatch(TASK_ID_PATTERN, task_id) for task_id in ids)
    assert ids == sorted(ids)
    assert len({new_task_id(now_ms=1) for _ in range(100)}) == 100


def test_image_ids_are_uuid7_that_sort_by_creation_time() -> None:
    ids = [new_image_id(now_ms=ms) for ms in (1_700_000_000_000, 1_700_000_000_001)]

    assert all(uuid.UUID(image_id).version == 7 for image_id in ids)
    assert all(re.fullmatch(UPLOAD_ID_PATTERN, image_id) for image_id in ids)
    assert ids == sorted(ids)


OWNER = "AIDAJQABLZS4A3QDU576Q"
OTHER = "AROAEXAMPLEROLEID0001"


def test_image_keys_stay_under_our_prefixes_and_their_owners() -> None:
    upload = new_image_id()
    result = result_image_id(new_task_id())

    assert image_key(upload, OWNER) == f"uploads/{OWNER}/{upload}"
    assert image_key(result, OWNER) == f"results/{OWNER}/{result}"
    # The same id is another key for another owner: it cannot reach the first owner's object.
    assert image_key(upload, OTHER) == f"uploads/{OTHER}/{upload}"
    assert owner_of_upload_key(image_key(upload, OWNER)) == (OWNER, upload)


def test_each_images_cached_renders_have_a_short_folder_of_their_own_under_its_owner() -> None:
    upload, result = new_image_id(), result_image_id(new_task_id())
    longest_incoming = incoming_image_id("incoming/" + "é" * 507)  # a 1,023-byte key

    folders = [render_cache_prefix(image_id, OWNER) for image_id in (upload, result, longest_incoming)]

    assert all(re.fullmatch(f"cache/{OWNER}/[0-9a-f]{{32}}/", folder) for folder in folders)
    assert len(set(folders)) == 3
    assert render_cache_prefix(upload, OTHER) == folders[0].replace(OWNER, OTHER)
    # No folder is the beginning of another's name: deleting one image's renders leaves the rest.
    assert not any(a != b and b.startswith(a) for a in folders for b in folders)
    with pytest.raises(ValueError, match="not a pixelmill image id"):
        render_cache_prefix("../x", OWNER)
    with pytest.raises(ValueError, match="not a tenant"):
        render_cache_prefix(upload, "AIDA/../AROA")


@pytest.mark.parametrize("owner", ["", "../x", "AIDA/../AROA", "short", "AIDAJQABLZS4A3QDU576Q/"])
def test_an_owner_that_is_no_tenant_makes_no_key(owner: str) -> None:
    with pytest.raises(ValueError, match="not a tenant"):
        image_key(new_image_id(), owner)


@pytest.mark.parametrize(
    "key",
    ["uploads/x", f"uploads/{OWNER}", f"uploads/{OWNER}/x.jpg", f"results/{OWNER}/{new_image_id()}", "uploads//x"],
)
def test_only_api_upload_keys_name_an_owner(key: str) -> None:
    assert owner_of_upload_key(key) is None


@pytest.mark.parametrize(
    "image_id",
    ["../etc/passwd", "uploads/x", "", "res-../../x", "0197E45A-8FC5-7848-9C9F-56CC0AE0A087", str(uuid.uuid4())],
)
def test_anything_else_is_refused(image_id: str) -> None:
    with pytest.raises(ValueError, match="not a pixelmill image id"):
        image_key(image_id, OWNER)


# --- files under incoming/ ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "incoming/a.jpg",
        "incoming/thumbnails/holiday photo.jpg",
        "incoming/été 2024 +50% (1).jpg",
        "incoming/日本/写真.jpg",
        "incoming/../uploads/0197e45a-8fc5-7848-9c9f-56cc0ae0a087",
        "incoming/" + "x" * 1015,
    ],
)
def test_a_file_under_incoming_has_an_url_safe_id_that_names_exactly_its_key(key: str) -> None:
    image_id = incoming_image_id(key)

    assert re.fullmatch(INCOMING_ID_PATTERN, image_id)
    assert re.fullmatch(IMAGE_ID_PATTERN, image_id)
    assert image_key(image_id, OWNER) == key  # S3 keys are literal: "../" is part of the name, still under incoming/


@pytest.mark.parametrize(
    "key", ["uploads/x.jpg", "incoming/", "incoming", "results/res-x", "Incoming/a.jpg", "incoming/" + "x" * 1016]
)
def test_only_files_under_incoming_get_an_incoming_id(key: str) -> None:
    with pytest.raises(ValueError, match="not the key of a file under incoming/"):
        incoming_image_id(key)


@pytest.mark.parametrize(
    "image_id",
    [
        "in-AAAAA",  # a length base64 cannot have
        "in-_w",  # 0xff: not UTF-8
        "in-Zm9vYh",  # "foob" spelled with stray low bits (it is Zm9vYg): one key, one id
        "in-Zm9vYg==",  # padding is never part of an id
        "in-Zm9v+g",  # the standard alphabet, not the URL-safe one
        "in-" + "eHh4" * 339,  # 1017 bytes: longer than any key under incoming/ can be
    ],
)
def test_incoming_ids_that_name_no_key_are_refused(image_id: str) -> None:
    with pytest.raises(ValueError, match="not a pixelmill image id"):
        image_key(image_id, OWNER)


def test_every_incoming_id_names_a_key_under_incoming() -> None:
    # Given every id of two base64 characters and some of three and four (all the short ones the pattern allows)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    candidates = [f"in-{a}{b}" for a in alphabet for b in alphabet]
    candidates += [f"in-{a}{b}{c}" for a in alphabet[::5] for b in alphabet for c in alphabet[::7]]
    keys = []
    for image_id in candidates:
        try:
            keys.append(image_key(image_id, OWNER))
        except ValueError:
            continue

    # Then those that name a key at all name one under incoming/, each its own
    assert keys
    assert all(key.startswith("incoming/") and len(key) > len("incoming/") for key in keys)
    assert len(set(keys)) == len(keys)


def test_the_api_model_refuses_an_incoming_id_that_names_no_key() -> None:
    TaskCreate(image_id=incoming_image_id("incoming/a.jpg"), function_type="grayscale")
    with pytest.raises(ValidationError, match="image_id"):
        TaskCreate(image_id="in-AAAAA", function_type="grayscale")


def test_a_task_id_can_be_derived_from_given_entropy() -> None:
    entropy = bytes(range(10))

    first = new_task_id(now_ms=1_700_000_000_000, entropy=entropy)

    assert first == new_task_id(now_ms=1_700_000_000_000, entropy=entropy)
    assert re.fullmatch(TASK_ID_PATTERN, first)
    assert first[:10] == new_task_id(now_ms=1_700_000_000_000)[:10]  # the time part sorts as usual
    with pytest.raises(ValueError, match="10 bytes"):
        new_task_id(entropy=b"short")


def test_a_task_id_tells_when_it_was_made() -> None:
    from datetime import UTC, datetime

    from pixelmill.models.ids import new_task_id, task_id_time

    made = 1_700_000_000_123
    assert task_id_time(new_task_id(now_ms=made)) == datetime.fromtimestamp(made / 1000, UTC)
