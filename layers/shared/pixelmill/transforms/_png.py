"""Decoding a PNG reduced on load: strip by strip, never the whole image.

Pillow decodes a PNG whole (48 MB for 12 MP RGB, which it holds at 4 bytes a
pixel) before anything else can start: PNG has no shrink-on-load. When a
function only needs the image reduced (``draft_size``), the image data is
inflated here a strip of rows at a time with zlib-ng (``zlib_ng``, 1.5-2x as
fast as CPython's ``zlib``), on a second thread, one strip ahead; Pillow's own
PNG decoder (``zip``) unfilters each strip, which is then reduced by whole
blocks of pixels, while the next one is inflated. The result has the same
pixels as decoding whole and reducing, in a fraction of the memory.

A PNG row may be filtered against the row above it (filter types Up, Average,
Paeth), so a strip whose first row is filtered so starts, for Pillow, with the
previous strip's last row, unfiltered (filter type 0). That row is read back from
Pillow's decoded strip: exactly for 8-bit grey, RGB, palette, grey with alpha
and RGBA, and 16-bit grey. Of 16-bit RGB and RGBA, Pillow keeps the high byte
of each sample, and that is all that is needed: the filters work byte by byte
on bytes a whole pixel apart (6 or 8 bytes), so high bytes are unfiltered from
high bytes only, and the row above is handed back with its low bytes zero.
Other depths, 16-bit grey with alpha and interlaced images are decoded whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

from PIL import Image, ImageFile
from zlib_ng import zlib_ng

from pixelmill.errors import UnsupportedImage

__all__ = ["reduction_factor", "streams", "strips"]

T = TypeVar("T")

# (bit depth, colour type) -> Pillow's mode, the raw mode of the file's samples, and whether
# Pillow keeps only their high byte (16-bit colour).
_MODES: dict[tuple[int, int], tuple[str, str, bool]] = {
    (8, 0): ("L", "L", False),
    (8, 2): ("RGB", "RGB", False),
    (8, 3): ("P", "P", False),
    (8, 4): ("LA", "LA", False),
    (8, 6): ("RGBA", "RGBA", False),
    (16, 0): ("I;16", "I;16B", False),
    (16, 2): ("RGB", "RGB;16B", True),
    (16, 6): ("RGBA", "RGBA;16B", True),
}
_FILTERS_READING_THE_ROW_ABOVE = frozenset({2, 3, 4})  # Up, Average, Paeth
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STRIP_BYTES = 1 << 20
"""Filtered image data inflated at a time (the strip's rows are a whole number of reduction blocks)."""
_INPUT_PIECE = 1 << 16
"""Compressed bytes handed to zlib at a time (an IDAT chunk may hold the whole image)."""
_STORED_BLOCK = 0xFFFF


def _header(source: bytes) -> tuple[int, int, int, int, int] | None:
    """Width, height, bit depth, colour type and interlace method from the IHDR chunk."""
    if len(source) < 33 or not source.startswith(_SIGNATURE) or source[12:16] != b"IHDR":
        return None
    width, height, depth, colour_type, _, _, interlace = struct.unpack_from(">IIBBBBB", source, 16)
    return width, height, depth, colour_type, interlace


def streams(source: bytes, image: ImageFile.ImageFile) -> bool:
    """Whether ``image`` (opened from ``source``) can be decoded strip by strip:
    a still, non-interlaced PNG of a depth and colour type held exactly (see the
    module's docstring), without an eXIf chunk after its pixels (an orientation
    stored there is only seen by decoding whole)."""
    header = _header(source)
    if image.format != "PNG" or header is None or getattr(image, "is_animated", False):
        return False
    _, _, depth, colour_type, interlace = header
    modes = _MODES.get((depth, colour_type))
    return modes is not None and modes[0] == image.mode and interlace == 0 and not _exif_after_pixels(source)


def reduction_factor(size: tuple[int, int], wanted: tuple[int, int], gap: float) -> int:
    """The whole-block reduction that keeps ``size`` at least ``gap`` times ``wanted`` on both sides."""
    return max(1, int(min(size[0] / wanted[0], size[1] / wanted[1]) / gap))


def _chunks(source: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Each chunk's type and where its payload starts and ends (cut short at the end of a truncated file)."""
    position = len(_SIGNATURE)
    while position + 8 <= len(source):
        (length,) = struct.unpack_from(">I", source, position)
        start = position + 8
        yield source[position + 4 : start], start, min(start + length, len(source))
        position = start + length + 4  # payload and CRC


def _exif_after_pixels(source: bytes) -> bool:
    kinds = [kind for kind, _, _ in _chunks(source)]
    return b"IDAT" in kinds and b"eXIf" in kinds[kinds.index(b"IDAT") :]


def _idat(source: bytes) -> Iterator[memoryview]:
    """The image data (the IDAT chunks' payload, which is one zlib stream), in pieces of at most ``_INPUT_PIECE``."""
    view = memoryview(source)
    seen = False
    for kind, start, end in _chunks(source):
        if kind == b"IDAT":
            seen = True
            for piece in range(start, end, _INPUT_PIECE):
                yield view[piece : min(piece + _INPUT_PIECE, end)]
        elif seen or kind == b"IEND":
            return  # the IDAT chunks are consecutive


def _filtered_strips(source: bytes, row_bytes: int, rows: int, height: int) -> Iterator[list[bytes]]:
    """The filtered rows (each a filter byte and its samples), ``rows`` at a time,
    in pieces; zlib never inflates more than the strip being asked for."""
    inflater = zlib_ng.decompressobj()
    pieces = _idat(source)
    pending: bytes | memoryview = b""
    for top in range(0, height, rows):
        wanted = min(rows, height - top) * row_bytes
        parts: list[bytes] = []
        got = 0
        while got < wanted:
            piece = pending or next(pieces, None)
            if piece is None or inflater.eof:
                raise UnsupportedImage("the PNG image could not be decoded: its image data ends early (truncated)")
            parts.append(inflater.decompress(piece, wanted - got))
            pending = inflater.unconsumed_tail
            got += len(parts[-1])
        yield parts


_END = object()


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """``items``, each next one made on a second thread while the caller works on the one
    before: zlib-ng inflates without the GIL, as Pillow unfilters and reduces, so the two
    overlap on a second core. One item is made ahead at most (one more strip held)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-inflate") as pool:
        upcoming = pool.submit(next, items, _END)
        while (item := upcoming.result()) is not _END:
            upcoming = pool.submit(next, items, _END)
            yield cast(T, item)


def _zlib_stored(data: bytes) -> bytes:
    """``data`` as a zlib stream of stored (uncompressed) blocks, without the final
    checksum: Pillow's decoder stops at the strip's last row and never reads it."""
    view = memoryview(data)
    out: list[bytes | memoryview] = [b"\x78\x01"]
    for start in range(0, len(data), _STORED_BLOCK):
        block = view[start : start + _STORED_BLOCK]
        out += [struct.pack("<BHH", 0, len(block), _STORED_BLOCK ^ len(block)), block]
    return b"".join(out)


def strips(source: bytes, image: ImageFile.ImageFile, factor: int) -> Iterator[Image.Image]:
    """``image`` (opened from ``source``; ``streams`` must be true) decoded top to
    bottom in strips of a whole number of ``factor`` rows (but the last), in
    Pillow's mode for the file, to be reduced by ``factor`` as they come."""
    header = _header(source)
    assert header is not None  # streams() said so
    width, height, depth, colour_type, _ = header
    mode, raw_mode, high_bytes_only = _MODES[(depth, colour_type)]
    row_bytes = 1 + width * _CHANNELS[colour_type] * depth // 8
    rows = factor * max(1, _STRIP_BYTES // row_bytes // factor)
    before: Image.Image | None = None  # the strip before
    for filtered in _prefetched(_filtered_strips(source, row_bytes, rows, height)):
        first_filter = next(part[0] for part in filtered if part)
        lead = before is not None and first_filter in _FILTERS_READING_THE_ROW_ABOVE
        if before is not None and lead:
            # The strip before's last row, unfiltered (filter type 0), leads this one; then it is cut off.
            data = b"".join([b"\x00", _last_row(before, raw_mode, high_bytes_only), *filtered])
        else:
            data = b"".join(filtered)
        lines = len(data) // row_bytes
        strip = Image.frombytes(mode, (width, lines), _zlib_stored(data), "zip", raw_mode)
        before = strip
        if lead:
            strip = strip.crop((0, 1, width, lines))
        if image.palette is not None:
            strip.putpalette(image.palette)
        if "transparency" in image.info:
            strip.info["transparency"] = image.info["transparency"]
        yield strip


def _last_row(strip: Image.Image, raw_mode: str, high_bytes_only: bool) -> bytes:
    """``strip``'s last row as the file's samples (16-bit colour: with low bytes zero)."""
    row = strip.crop((0, strip.height - 1, strip.width, strip.height))
    if not high_bytes_only:
        return row.tobytes("raw", raw_mode)
    high = row.tobytes("raw", strip.mode)
    samples = bytearray(2 * len(high))
    samples[0::2] = high
    return bytes(samples)
