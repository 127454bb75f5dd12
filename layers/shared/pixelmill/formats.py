"""An upload's real format, from its first bytes (magic bytes, never a claimed type).

No imaging library here: the same check runs wherever a file is judged.
"""

from __future__ import annotations

# HEIF brands: HEVC stills and sequences (phones' HEIC) and the structural ones of ISO/IEC 23008-12.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1"})


def _iso_bmff_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO base media file's ``ftyp`` box."""
    box_size = int.from_bytes(head[0:4], "big")
    end = min(box_size, len(head))
    return {head[8:12], *(head[offset : offset + 4] for offset in range(16, end - 3, 4))}


def signature_format(head: bytes) -> str | None:
    """The Pillow format name announced by the first bytes of a file, if known."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM":
        return "BMP"
    if head[4:8] == b"ftyp":
        brands = _iso_bmff_brands(head)
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        # Other ISO media files (MP4, QuickTime) share the box structure but are not images.
        return "HEIF" if brands & _HEIF_BRANDS else None
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"%PDF"):
        return "PDF"
    return None
