"""What isolating each transform in a child process costs per task.

A 24 MP JPEG thumbnailed (the default 256 px) in the worker's own process
against the same run in a child: forked per task (what the worker does), spawned
per task (a fresh interpreter: every import again), and a warm pool of one
spawned child (no per-task start, but the source path and result cross a pipe).
Ratios are in-process time / isolated time, interleaved; 1.00x is free.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.timing import interleaved_medians
from pixelmill.catalog import registry
from pixelmill.logic.isolation import run_isolated
from pixelmill.settings import MIB, Settings
from pixelmill.transforms import Limits, Rendered, RenderedFile
from pixelmill.transforms.base import no_progress

ROUNDS = 15


def _thumbnail(source: str, workdir: str) -> Rendered | RenderedFile:
    """The task's work, as a child started by spawn runs it (importable by name)."""
    function = registry.load("thumbnail", {})
    return function.run_file(Path(source), Path(workdir), Limits.from_settings(Settings()))


def main() -> None:
    # Here, not at the top: a spawned child imports this module, and need not load libvips.
    from bench.photo import encoded, photo

    settings = Settings()
    limits = Limits.from_settings(settings)
    thumbnail = registry.load("thumbnail", {})
    print(f"pixelmill isolation benchmark: median of {ROUNDS} interleaved rounds; ratio = in-process / isolated")  # noqa: T201
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        source = root / "source.jpg"
        source.write_bytes(encoded(photo(6000, 4000), "JPEG", quality=90))
        counter = iter(range(10**6))

        def workdir() -> Path:
            path = root / f"work-{next(counter)}"
            path.mkdir()
            return path

        def in_process() -> object:
            return thumbnail.run_file(source, workdir(), limits)

        def forked() -> object:
            return run_isolated(
                thumbnail,
                source,
                workdir(),
                limits,
                no_progress,
                memory_bytes=settings.task_memory_mib * MIB,
                cancelled=lambda: False,
            )

        spawn = multiprocessing.get_context("spawn")

        def spawned() -> object:
            child = spawn.Process(target=_thumbnail, args=(str(source), str(workdir())))
            child.start()
            child.join()
            return child.exitcode

        with spawn.Pool(1) as pool:
            pool.apply(_thumbnail, (str(source), str(workdir())))  # warm: imports done once

            def pooled() -> object:
                return pool.apply(_thumbnail, (str(source), str(workdir())))

            variants: list[tuple[str, Callable[[], object]]] = [
                ("fork per task (the worker)", forked),
                ("spawn per task", spawned),
                ("warm pool of one spawned child", pooled),
            ]
            for name, isolated in variants:
                base, mine = interleaved_medians(in_process, isolated, ROUNDS)
                print(  # noqa: T201
                    f"thumbnail 24 MP, {name:<32} {base / mine:5.2f}x   "
                    f"(in-process {base * 1000:6.1f} ms, isolated {mine * 1000:6.1f} ms, "
                    f"overhead {100 * (mine - base) / base:+.0f}%)"
                )


if __name__ == "__main__":
    main()
