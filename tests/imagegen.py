"""Real image files, generated with Pillow, for the tests.

Most images are the ``quadrants`` pattern: four flat colours, so that a test
can tell which way up an image is, and whether it was cropped or mirrored, by
sampling the middle of each quarter (``sample_quadrants``).
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib
from typing import Any

from PIL import ExifTags, Image, ImageCms, ImageSequence

Colour = tuple[int, ...]

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)

QUADRANTS: dict[str, Colour] = {"top_left": RED, "top_right": GREEN, "bottom_left": BLUE, "bottom_right": YELLOW}
"""The colour of each quarter of the ``quadrants`` pattern."""

XMP_PACKET = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' tiff:Orientation="1" dc:format="image/jpeg"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)

# How to store an upright image so that a viewer applying EXIF orientation N
# shows it upright: the inverse of the transposition for N.
_STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# ---------------------------------------------------------------- pictures


def quadrants(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """The four-colour pattern (see ``QUADRANTS``) of ``width``×``height`` in ``mode``."""
    image = Image.new("RGB", (width, height))
    half_width, half_height = width // 2, height // 2
    image.paste(RED, (0, 0, half_width, half_height))
    image.paste(GREEN, (half_width, 0, width, half_height))
    image.paste(BLUE, (0, half_height, half_width, height))
    image.paste(YELLOW, (half_width, half_height, width, height))
    return image if mode == "RGB" else image.convert(mode)


def half_transparent(width: int, height: int) -> Image.Image:
    """RGBA: an opaque red left half and a fully transparent (black) right half."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, width // 2, height))
    return image


def sample_quadrants(image: Image.Image) -> dict[str, Colour]:
    """The RGB colour in the middle of each quarter of ``image``."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    points = {
        "top_left": (width // 4, height // 4),
        "top_right": (3 * width // 4, height // 4),
        "bottom_left": (width // 4, 3 * height // 4),
        "bottom_right": (3 * width // 4, 3 * height // 4),
    }
    return {name: pixel(rgb, *point) for name, point in points.items()}


def close_to(actual: Colour, expected: Colour, tolerance: int = 24) -> bool:
    """Whether two colours differ by at most ``tolerance`` in every channel (lossy formats)."""
    return len(actual) == len(expected) and all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def decode(data: bytes) -> Image.Image:
    """The image file ``data``, opened (the first frame decoded)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def decode_frames(data: bytes) -> list[Image.Image]:
    """Every frame of the image file ``data`` (one for a still image), with its ``info`` (duration …)."""
    image = Image.open(io.BytesIO(data))
    frames = []
    for frame in ImageSequence.Iterator(image):
        copy = frame.copy()
        copy.info = dict(frame.info)
        frames.append(copy)
    return frames


def pixel(image: Image.Image, x: int, y: int) -> Colour:
    """The channels of ``image`` at ``x``, ``y`` (of a multi-channel mode)."""
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return tuple(int(channel) for channel in value)


# ---------------------------------------------------------------- files


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """``image`` written as ``fmt`` (a Pillow format name) with save ``params``."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def image_bytes(fmt: str, width: int = 64, height: int = 48, *, mode: str = "RGB", **params: Any) -> bytes:
    """The quadrants pattern as a ``fmt`` file (JPEG, PNG, WEBP, GIF, TIFF, BMP, AVIF …)."""
    return encode(quadrants(width, height, mode), fmt, **params)


def sample_exif(orientation: int | None = None) -> Image.Exif:
    """EXIF with a camera make, a capture date, a GPS latitude and, if given, an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "pixelmill-test"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2024:05:06 07:08:09"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    return exif


def jpeg_bytes(
    width: int,
    height: int,
    *,
    orientation: int | None = None,
    mode: str = "RGB",
    quality: int = 95,
    exif: Image.Exif | None = None,
    icc_profile: bytes | None = None,
    xmp: bytes | None = None,
    comment: bytes | None = None,
) -> bytes:
    """The quadrants pattern as a JPEG that shows ``width``×``height`` upright.

    With ``orientation`` (2..8) the pixels are stored turned (height×width for
    5..8) and the EXIF Orientation tag says how to turn them back.
    """
    image = quadrants(width, height, mode)
    if orientation is not None:
        exif = exif if exif is not None else Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        if orientation in _STORE_FOR_ORIENTATION:
            image = image.transpose(_STORE_FOR_ORIENTATION[orientation])
    params: dict[str, Any] = {"quality": quality}
    for key, value in (("exif", exif), ("icc_profile", icc_profile), ("xmp", xmp), ("comment", comment)):
        if value is not None:
            params[key] = value
    return encode(image, "JPEG", **params)


def cmyk_jpeg_bytes(width: int, height: int, *, with_profile: bool = True) -> bytes:
    """The quadrants pattern as a CMYK JPEG, with or without an embedded CMYK ICC profile."""
    return jpeg_bytes(width, height, mode="CMYK", icc_profile=cmyk_profile() if with_profile else None)


def rgba_png_bytes(width: int, height: int) -> bytes:
    """``half_transparent`` as an RGBA PNG."""
    return encode(half_transparent(width, height), "PNG")


def animated_bytes(
    fmt: str, width: int, height: int, *, colours: tuple[Colour, ...] = (RED, GREEN, BLUE), duration: int = 80
) -> bytes:
    """An animation (GIF, WEBP or PNG) of one flat frame per colour, looping forever."""
    frames = [Image.new("RGB", (width, height), colour) for colour in colours]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=duration, loop=0)


def animated_gif_bytes(width: int, height: int, frames: int = 3, duration: int = 80) -> bytes:
    """An animated GIF of ``frames`` flat frames (red, green, blue, then repeating)."""
    colours = tuple(itertools.islice(itertools.cycle((RED, GREEN, BLUE)), frames))
    return animated_bytes("GIF", width, height, colours=colours, duration=duration)


def png_header_bytes(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny crafted PNG whose header claims ``width``×``height`` RGB pixels
    but whose data holds almost nothing: only a header check can refuse it
    quickly; decoding it would fail (or exhaust memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def float_tiff_header_bytes(width: int, height: int) -> bytes:
    """A crafted little-endian TIFF whose header claims ``width``×``height`` float32
    samples (Pillow's mode F, 4 bytes a pixel) in one deflated strip it does not
    hold: only a check made before decoding can refuse it."""
    entries = [  # (tag, type: 3 SHORT / 4 LONG, value)
        (256, 4, width),
        (257, 4, height),
        (258, 3, 32),  # bits per sample
        (259, 3, 8),  # deflate
        (262, 3, 1),  # black is zero
        (273, 4, 8),  # the strip's offset
        (277, 3, 1),  # one sample per pixel
        (278, 4, height),  # rows per strip
        (279, 4, 690_000),  # the strip's size
        (339, 3, 3),  # IEEE floating point
    ]
    fields = b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries)) + fields + struct.pack("<I", 0)


# ---------------------------------------------------------------- colour profiles


def srgb_profile() -> bytes:
    """The sRGB ICC profile Pillow makes."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def cmyk_profile() -> bytes:
    """A minimal CMYK ICC profile (v2, printer class, CMYK to Lab through a
    2-point grid) that describes the naive conversion R = (1-C)(1-K) …

    No CMYK profile ships with Pillow or the system, so one is built here:
    enough for LittleCMS to convert CMYK to sRGB.
    """
    corners = list(itertools.product((0, 1), repeat=4))  # C, M, Y, K; the first varies slowest
    rgb = Image.new("RGB", (len(corners), 1))
    for index, (*cmy, k) in enumerate(corners):
        rgb.putpixel((index, 0), tuple(round(255 * (1 - value) * (1 - k)) for value in cmy))
    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    lab = ImageCms.applyTransform(rgb, to_lab)
    assert lab is not None
    grid = b"".join(bytes(pixel(lab, index, 0)) for index in range(len(corners)))

    ramp = bytes(range(256))
    identity = b"".join(_s15(1.0 if row == column else 0.0) for row in range(3) for column in range(3))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + grid + ramp * 3
    name = b"pixelmill test CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8) + bytes(3) + bytes(67)
    d50 = _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    wtpt = b"XYZ " + bytes(4) + d50
    return _icc_profile(b"prtr", b"CMYK", b"Lab ", d50, [(b"desc", desc), (b"wtpt", wtpt), (b"A2B0", a2b0)])


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _icc_profile(
    device_class: bytes, colour_space: bytes, pcs: bytes, illuminant: bytes, tags: list[tuple[bytes, bytes]]
) -> bytes:
    """An ICC v2.1 profile of ``tags`` (signature, body)."""
    table, data = b"", b""
    offset = 128 + 4 + 12 * len(tags)
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I", offset + len(data))
        + bytes(4)
        + bytes([2, 0x10, 0, 0])
        + device_class
        + colour_space
        + pcs
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + illuminant
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + data


# ---------------------------------------------------------------- HEIC and JPEG 2000


def heic_bytes(
    width: int, height: int, *, orientation: int | None = None, exif: Image.Exif | None = None, **params: Any
) -> bytes:
    """The quadrants pattern as a HEIC (pillow-heif's HEVC encoder) that shows
    ``width``×``height`` upright.

    With ``orientation`` the pixels are stored turned, and the EXIF orientation
    becomes the HEIF rotation/mirroring (``irot``/``imir``), as phones write it.
    """
    import pillow_heif

    pillow_heif.register_heif_opener()
    image = quadrants(width, height)
    if orientation is not None:
        exif = exif if exif is not None else Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        if orientation in _STORE_FOR_ORIENTATION:
            image = image.transpose(_STORE_FOR_ORIENTATION[orientation])
    if exif is not None:
        params["exif"] = exif.tobytes()
    return encode(image, "HEIF", quality=90, **params)


def heic_header_bytes(width: int, height: int) -> bytes:
    """A small real HEIC whose image size box (``ispe``) is changed to claim
    ``width``×``height``: only a header check can refuse it quickly."""
    data = bytearray(heic_bytes(64, 64))
    offset = data.index(b"ispe") + 8  # the box type, then version and flags
    data[offset : offset + 8] = struct.pack(">II", width, height)
    return bytes(data)


def jp2_header_bytes(width: int, height: int) -> bytes:
    """A small real JPEG 2000 codestream (.j2k, RGB, one tile) whose SIZ header
    is changed to claim ``width``×``height``: only a header check can refuse it
    quickly."""
    data = bytearray(encode(quadrants(64, 64), "JPEG2000", no_jp2=True))
    siz = data.index(b"\xff\x51") + 6  # the marker, its length and the capabilities
    # Image size, then the image offset (kept), then the tile size: one tile for the whole image.
    data[siz : siz + 8] = struct.pack(">II", width, height)
    data[siz + 16 : siz + 24] = struct.pack(">II", width, height)
    return bytes(data)
