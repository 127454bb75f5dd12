"""Photo benchmarks: pixelmill's functions against a plain-Pillow baseline in the same process.

Numbers are ratios (baseline time / pixelmill time) from interleaved runs, so a
busy shared machine slows both sides alike. Run with ``make bench``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

from PIL import Image, ImageChops, ImageOps

from bench.timing import interleaved_medians
from pixelmill.settings import Settings
from pixelmill.transforms import Limits, registry

ROUNDS = 5


def photo_like_jpeg(width: int, height: int) -> bytes:
    """A JPEG with smooth gradients and sensor-like noise (compresses like a photo)."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 24)
    rgb = Image.merge("RGB", (gradient, ImageChops.add(gradient, noise, scale=2.0), noise))
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of two same-size RGB images, in dB."""
    histogram = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    squares = sum(count * ((index % 256) ** 2) for index, count in enumerate(histogram))
    mse = squares / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def compare(name: str, baseline: Callable[[], object], ours: Callable[[], object]) -> tuple[float, float]:
    """Interleave the two so both see the same machine load; return (baseline, ours) medians."""
    base, mine = interleaved_medians(baseline, ours, ROUNDS)
    print(f"{name:<46} {base / mine:5.2f}x   (baseline {base * 1000:7.1f} ms, pixelmill {mine * 1000:7.1f} ms)")  # noqa: T201
    return base, mine


def main() -> None:
    limits = Limits.from_settings(Settings())
    print(f"pixelmill photo benchmark: median of {ROUNDS} interleaved rounds; ratio = baseline / pixelmill")  # noqa: T201

    # 1. A 24 MP JPEG to 800 px wide: decode + LANCZOS vs shrink-on-load (draft) + LANCZOS.
    source = photo_like_jpeg(6000, 4000)
    resize = registry.parse("resize", {"width": 800})

    def naive_resize() -> Image.Image:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(source)))
        return image.resize((800, 533), Image.Resampling.LANCZOS)

    def pixelmill_resize() -> bytes:
        return resize.run(source, limits).data

    compare("resize 24 MP JPEG -> 800 px (draft)", naive_resize, pixelmill_resize)
    quality = psnr(naive_resize(), Image.open(io.BytesIO(pixelmill_resize())))
    print(f"{'':<46} PSNR of pixelmill's result vs the baseline's: {quality:.1f} dB")  # noqa: T201

    # 2. WebP: libwebp's default effort (method 4) vs pixelmill's default (method 0).
    photo = Image.open(io.BytesIO(photo_like_jpeg(2000, 1500)))
    photo.load()
    convert = registry.parse("convert", {"format": "webp"})
    medium = photo_like_jpeg(2000, 1500)

    def webp_default() -> bytes:
        buffer = io.BytesIO()
        photo.save(buffer, "WEBP", quality=80, method=4)
        return buffer.getvalue()

    compare("convert 3 MP -> WebP q80 (method 0 vs 4)", webp_default, lambda: convert.run(medium, limits))
    ratio = len(convert.run(medium, limits).data) / len(webp_default())
    print(f"{'':<46} file size vs method 4: {ratio:.2f}x")  # noqa: T201

    # 3. AVIF: speed 6 (a common default) vs pixelmill's default.
    small = photo_like_jpeg(1000, 750)
    small_photo = Image.open(io.BytesIO(small))
    small_photo.load()
    avif = registry.parse("convert", {"format": "avif"})

    def avif_speed6() -> bytes:
        buffer = io.BytesIO()
        small_photo.save(buffer, "AVIF", quality=60, speed=6)
        return buffer.getvalue()

    compare("convert 0.75 MP -> AVIF q60 (pixelmill vs speed 6)", avif_speed6, lambda: avif.run(small, limits))


if __name__ == "__main__":
    main()
