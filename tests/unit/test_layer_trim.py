"""layers/trim.py's check of a stripped shared object: the loader's own segment checks."""

from __future__ import annotations

import struct
from pathlib import Path

import PIL

from layers import trim

SHARED_OBJECT = next(Path(PIL.__file__).parent.glob("_imaging.cpython-*.so"))


def _shift_first_loadable_segment(source: Path, target: Path, by: int) -> None:
    data = bytearray(source.read_bytes())
    (table,) = struct.unpack_from("<Q", data, 32)
    entry_size, entries = struct.unpack_from("<HH", data, 54)
    for index in range(entries):
        start = table + index * entry_size
        if struct.unpack_from("<I", data, start)[0] == trim.PT_LOAD:
            (offset,) = struct.unpack_from("<Q", data, start + 8)
            struct.pack_into("<Q", data, start + 8, offset + by)
            break
    target.write_bytes(bytes(data))


def test_a_built_shared_object_passes_the_loaders_checks() -> None:
    assert trim.loader_refusal(SHARED_OBJECT) == ""


def test_a_segment_whose_offset_and_address_disagree_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.so"
    _shift_first_loadable_segment(SHARED_OBJECT, broken, by=8)
    assert "not page-aligned" in trim.loader_refusal(broken)
    # shifted by whole pages, it is fine again
    _shift_first_loadable_segment(SHARED_OBJECT, broken, by=trim.PAGE_SIZE)
    assert trim.loader_refusal(broken) == ""


def test_what_is_not_a_64_bit_elf_object_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.so"
    text.write_text("not an ELF object")
    assert trim.loader_refusal(text) == "not a 64-bit ELF object"
