"""Photo benchmarks: pixelmill's photo functions against libvips, the peer users
would pick instead (imgproxy, sharp and AWS's Serverless Image Handler use it).

Each case runs pixelmill's own ``run()`` and libvips (pyvips, its binary wheel)
doing the same work on the same bytes, interleaved in one process, so a busy
machine slows both alike. Printed per case:

- time as a ratio, pixelmill / libvips (below 1: pixelmill is faster);
- the peak resident memory one run adds, each side in a fresh interpreter
  (after a warm-up run, the kernel's high-water mark is reset and read again);
- the result's size in bytes against libvips';
- quality: the PSNR of each result against a reference made by decoding the
  source whole and resizing it with Pillow's LANCZOS, no shortcut, written in
  the same format with the same settings (pixelmill's must be 38 dB or more;
  libvips', encoded by its own codecs' settings, is shown for comparison).

libvips' operation cache is off (a server would not see the same bytes twice)
and it uses its default threads. Run with ``make bench``.
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageSequence

from bench.timing import interleaved_medians
from pixelmill.catalog import registry
from pixelmill.settings import Settings
from pixelmill.transforms import Limits
from pixelmill.transforms._photo import OUTPUT_FORMATS

ROUNDS = 5
MIB = 1024 * 1024
MIN_PSNR = 38.0
"""Quality every result must keep against the full-decode LANCZOS reference (dB)."""
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- sources


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """An RGB picture with what photos have: smooth gradients, hard edges of
    many sizes and colours, and mild sensor-like noise (deterministic)."""
    rnd = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge(
        "RGB",
        (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient.transpose(Image.Transpose.ROTATE_180)),
    )
    draw = ImageDraw.Draw(image)
    for _ in range(300):
        x, y = rnd.randrange(width), rnd.randrange(height)
        radius = rnd.randrange(width // 200 + 2, width // 12)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        if rnd.random() < 0.5:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        else:
            end = (x + rnd.randrange(-3 * radius, 3 * radius), y + rnd.randrange(-3 * radius, 3 * radius))
            draw.line((x, y, *end), fill=colour, width=max(1, radius // 8))
    image = image.filter(ImageFilter.GaussianBlur(width / 3000))  # a lens is never perfectly sharp
    noise = Image.effect_noise((width, height), 6).convert("RGB")
    return Image.blend(image, ImageChops.add(image, noise, 1, -128), 0.5)


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def with_alpha(image: Image.Image) -> Image.Image:
    """``image`` with a soft alpha: opaque at the top left, fading to transparent."""
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.radial_gradient("L").resize(image.size).point(lambda value: 255 - value))
    return rgba


def sixteen_bit_png(image: Image.Image) -> bytes:
    """``image`` as a 16-bit-per-channel RGB PNG (Pillow cannot write one: libvips does)."""
    vips = pyvips.Image.new_from_memory(image.tobytes(), image.width, image.height, 3, "uchar")
    return bytes((vips.cast("ushort") * 257).copy(interpretation="rgb16").pngsave_buffer(bitdepth=16))


def gif_animation(width: int, height: int, frames: int) -> bytes:
    """An animated GIF: a camera pan across a photo, each frame with its own palette."""
    scene = photo(width + 4 * frames, height, seed=2)
    images = [scene.crop((4 * i, 0, 4 * i + width, height)).quantize(256) for i in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)


# ---------------------------------------------------------------- libvips doing the same work


def jpeg_decoded_at_one_eighth(source: bytes) -> Image.Image:
    """Pillow's JPEG decode at 1/8 scale alone: the entropy decoding every thumbnailer does first."""
    image = Image.open(io.BytesIO(source))
    image.draft(None, (image.width // 8, image.height // 8))
    image.load()
    return image


def vips_thumbnail(width: int, save: Callable[[pyvips.Image], bytes], **options: Any) -> Callable[[bytes], bytes]:
    """libvips' fast resize (shrink-on-load, then reduce) to ``width``, then ``save``."""
    return lambda source: save(pyvips.Image.thumbnail_buffer(source, width, **options))


def vips_jpeg(image: pyvips.Image) -> bytes:
    return bytes(image.jpegsave_buffer(Q=85, optimize_coding=True, keep="none"))


def vips_png(image: pyvips.Image) -> bytes:
    return bytes(image.pngsave_buffer(keep="none"))


def vips_png_8bit(image: pyvips.Image) -> bytes:
    return bytes(image.colourspace("srgb").pngsave_buffer(keep="none"))


def vips_gif(image: pyvips.Image) -> bytes:
    return bytes(image.gifsave_buffer(keep="none"))


def vips_webp(source: bytes) -> bytes:
    image = pyvips.Image.new_from_buffer(source, "", access="sequential")
    return bytes(image.webpsave_buffer(Q=80, effort=0, keep="none"))


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    """One benchmark: a source, pixelmill's task for it and libvips doing the same."""

    name: str
    make_source: Callable[[], bytes]
    function_type: str
    function_args: dict[str, Any]
    vips: Callable[[bytes], bytes]
    rounds: int = ROUNDS
    floor: tuple[str, Callable[[bytes], object]] | None = None
    """A part of the work no implementation can skip, timed alone against libvips' whole run."""


CASES = [
    Case(
        "JPEG 24 MP -> 800 px JPEG",
        lambda: encoded(photo(6000, 4000), "JPEG", quality=90),
        "resize",
        {"width": 800},
        vips_thumbnail(800, vips_jpeg),
    ),
    Case(
        "JPEG 24 MP -> 256 px thumbnail",
        lambda: encoded(photo(6000, 4000), "JPEG", quality=90),
        "thumbnail",
        {"size": 256},
        vips_thumbnail(256, vips_jpeg),
        rounds=15,  # ~60 ms a run: more rounds for a steady median
        floor=("the 1/8-scale decode alone", jpeg_decoded_at_one_eighth),
    ),
    Case(
        "PNG 12 MP -> 800 px PNG",
        lambda: encoded(photo(4000, 3000), "PNG"),
        "resize",
        {"width": 800},
        vips_thumbnail(800, vips_png),
    ),
    Case(
        "PNG 12 MP with alpha -> 800 px PNG",
        lambda: encoded(with_alpha(photo(4000, 3000)), "PNG"),
        "resize",
        {"width": 800},
        vips_thumbnail(800, vips_png),
    ),
    Case(
        "PNG 12 MP 16-bit -> 800 px PNG",
        lambda: sixteen_bit_png(photo(4000, 3000)),
        "resize",
        {"width": 800},
        vips_thumbnail(800, vips_png_8bit),
    ),
    Case(
        "GIF 40 frames 640x480 -> 320 px GIF",
        lambda: gif_animation(640, 480, 40),
        "resize",
        {"width": 320},
        vips_thumbnail(320, vips_gif, option_string="n=-1"),
        rounds=3,
    ),
    Case(
        "JPEG 3 MP -> WebP q80, effort 0 both",
        lambda: encoded(photo(2000, 1500), "JPEG", quality=90),
        "convert",
        {"format": "webp"},
        vips_webp,
    ),
]


# ---------------------------------------------------------------- quality


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two same-size images of the same mode, in dB."""
    histogram = ImageChops.difference(a, b).histogram()
    squares = sum(count * ((index % 256) ** 2) for index, count in enumerate(histogram))
    mse = squares / (a.width * a.height * len(a.getbands()))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def first_frame(data: bytes) -> Image.Image:
    """The first frame of an image file in RGB, or RGBA when it has transparency."""
    image = Image.open(io.BytesIO(data))
    frame = next(ImageSequence.Iterator(image))
    return frame.convert("RGBA" if frame.has_transparency_data else "RGB")


def reference(source: bytes, result: bytes) -> Image.Image:
    """What ``result`` is checked against: the source decoded whole, upright,
    resized to the result's size with LANCZOS (no reducing, no draft), then
    written in the result's format with pixelmill's settings for it, so that
    the check measures the processing, not the codec's own loss."""
    written = Image.open(io.BytesIO(result))
    fmt = OUTPUT_FORMATS[written.format or "PNG"]
    image = ImageOps.exif_transpose(first_frame(source))
    if image.size != written.size:
        image = image.resize(written.size, Image.Resampling.LANCZOS)
    if image.mode not in fmt.modes:
        image = image.convert("RGB")
    return first_frame(encoded(image, fmt.name, **fmt.options))


# ---------------------------------------------------------------- memory


def _status_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise LookupError(name)


def _peak_child(case_index: int, side: str, source_path: str) -> None:
    """In a fresh interpreter: one warm-up run, then the peak resident memory one more run adds."""
    case = CASES[case_index]
    source = Path(source_path).read_bytes()
    work = _worker(case, side)
    work(source)
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
    work(source)
    print(json.dumps({"added_kib": _status_kib("VmHWM") - before}))  # noqa: T201


def peak_added_mib(case_index: int, side: str, source_path: Path) -> float:
    """Peak memory a run of ``side`` ("pixelmill" or "libvips") adds on the case's source."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}"}
    output = subprocess.run(
        [sys.executable, "-m", "bench.photo", "--peak", str(case_index), side, str(source_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["added_kib"]) / 1024


def _worker(case: Case, side: str) -> Callable[[bytes], bytes]:
    pyvips.cache_set_max(0)
    if side == "libvips":
        return case.vips
    limits = Limits.from_settings(Settings())
    function = registry.load(case.function_type, case.function_args)
    return lambda source: function.run(source, limits).data


# ---------------------------------------------------------------- pixelmill's encoder defaults


def encoder_defaults() -> None:
    """pixelmill's default WebP and AVIF efforts against the encoders' own defaults (same process, Pillow)."""
    print("\npixelmill's encoder defaults against the encoders' own (ratio = encoder default / pixelmill)")  # noqa: T201
    _encoder_default("WebP q80, method 0 vs libwebp's 4", "webp", {"quality": 80, "method": 4}, photo(2000, 1500))
    _encoder_default("AVIF q60, speed 8 vs a common 6", "avif", {"quality": 60, "speed": 6}, photo(1000, 750))


def _encoder_default(name: str, fmt: str, params: dict[str, Any], picture: Image.Image) -> None:
    limits = Limits.from_settings(Settings())
    source = encoded(picture, "JPEG", quality=90)
    convert = registry.load("convert", {"format": fmt})
    default_seconds, our_seconds = interleaved_medians(
        lambda: encoded(picture, fmt.upper(), **params), lambda: convert.run(source, limits), 3
    )
    size_ratio = len(convert.run(source, limits).data) / len(encoded(picture, fmt.upper(), **params))
    print(f"{name:<38} {default_seconds / our_seconds:5.2f}x faster, file {size_ratio:4.2f}x the size")  # noqa: T201


# ---------------------------------------------------------------- the run


def run_case(index: int, case: Case, directory: Path) -> list[str]:
    """Time, measure and check one case; print its row; return its quality failures."""
    source = case.make_source()
    source_path = directory / f"source-{index}"
    source_path.write_bytes(source)
    ours, theirs = _worker(case, "pixelmill"), _worker(case, "libvips")
    vips_seconds, our_seconds = interleaved_medians(lambda: theirs(source), lambda: ours(source), case.rounds)
    our_result, vips_result = ours(source), theirs(source)
    our_image, vips_image = first_frame(our_result), first_frame(vips_result)
    our_psnr = psnr(reference(source, our_result).convert(our_image.mode), our_image)
    vips_psnr = psnr(reference(source, vips_result).convert(vips_image.mode), vips_image)
    our_mib = peak_added_mib(index, "pixelmill", source_path)
    vips_mib = peak_added_mib(index, "libvips", source_path)
    print(  # noqa: T201
        f"{case.name:<38} {our_seconds / vips_seconds:5.2f}x {our_seconds * 1000:8.0f}ms "
        f"{vips_seconds * 1000:7.0f}ms {our_mib:6.0f} vs {vips_mib:4.0f} "
        f"{len(our_result) / len(vips_result):5.2f}x {our_psnr:5.1f} vs {vips_psnr:4.1f}"
    )
    if case.floor is not None:
        name, part = case.floor
        vips_seconds, part_seconds = interleaved_medians(lambda: theirs(source), lambda: part(source), case.rounds)
        print(f"  {name}: {part_seconds / vips_seconds:4.2f}x libvips' whole run")  # noqa: T201
    return [f"{case.name}: PSNR {our_psnr:.1f} dB, below {MIN_PSNR} dB"] if our_psnr < MIN_PSNR else []


def main() -> None:
    print(  # noqa: T201
        f"pixelmill photo benchmark against libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)} "
        f"(interleaved medians; time ratio = pixelmill / libvips, below 1 is faster; memory = peak a run adds)"
    )
    header = (
        f"{'case':<38} {'time':>6} {'pixelmill':>10} {'libvips':>9} {'memory MiB':>15} {'bytes':>6} {'PSNR dB':>13}"
    )
    print(header)  # noqa: T201
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        for index, case in enumerate(CASES):
            failures += run_case(index, case, Path(directory))
    encoder_defaults()
    if failures:
        print("quality check failed:\n  " + "\n  ".join(failures))  # noqa: T201
        sys.exit(1)
    print(f"quality check passed: every result at least {MIN_PSNR} dB")  # noqa: T201


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--peak":
        _peak_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        main()
