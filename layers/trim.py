"""Trim a built layer's python/ directory: what Lambda never loads goes.

Always: tests, bytecode caches, type stubs, Cython and C headers.
``--botocore``: botocore's API models of the services pixelmill does not call
(about 20 MiB of JSON; the kept ones are BOTOCORE_SERVICES).
``--strip MACHINE``: debug symbols of the shared objects, with the binutils strip
for MACHINE (``strip`` on a machine of that kind, else ``MACHINE-linux-gnu-strip``:
`make build-tools` installs Debian's binutils-aarch64-linux-gnu for arm64 builds on
x86_64). strip breaks some libraries patchelf rewrote (e.g. numpy's OpenBLAS: "ELF
load command address/offset not page-aligned"), so every stripped file is checked
and put back as built when it fails:

- statically, on any machine: its loadable segments must pass the checks Linux's
  loader makes of them (each segment's file offset and address agree modulo the
  page size, and its alignment is a whole number of pages, for Lambda's 4 KiB pages);
  on x86_64 this flags exactly the files that then fail to load, for strip and
  llvm-strip alike;
- when the objects are this machine's, also by loading every file with ctypes
  before and after: a file whose outcome changes is put back, until nothing changes
  (a dependency may be among them). A Python extension built for 3.13 fails to load
  here on the interpreter's symbols, before and after alike: what is compared is
  that the file still maps.

Runs with the build machine's python3 (standard library only).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

BOTOCORE_SERVICES = frozenset({"dynamodb", "s3", "secretsmanager", "sqs", "sts", "xray"})
"""Clients the functions create (pixelmill.dal: dynamodb, s3, sqs, secretsmanager), the credential chain's sts,
and X-Ray's sampling client. tests/infrastructure checks the code creates no other."""

# What loader_refusal reads of an ELF object.
ELF_CLASS_64 = 2
ELF_LITTLE_ENDIAN = 1
PT_LOAD = 1
PAGE_SIZE = 4096
"""Lambda's page size, on x86_64 and arm64 alike."""

REMOVED_DIRECTORIES = frozenset({"tests", "__pycache__"})
REMOVED_SUFFIXES = (".pyi", ".pxd", ".pyx", ".h")

_LOAD = """
import ctypes, json, os, sys
outcome = {}
for path in sys.argv[1:]:
    try:
        ctypes.CDLL(path, mode=os.RTLD_LAZY)
        outcome[path] = ""
    except OSError as error:
        outcome[path] = str(error)
print(json.dumps(outcome))
"""


def remove_unused_files(root: Path) -> None:
    """Tests, caches, stubs and headers."""
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and path.name in REMOVED_DIRECTORIES and path.parent != root:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(REMOVED_SUFFIXES):
            path.unlink()


def remove_unused_botocore_models(root: Path) -> None:
    """The API models of services no function calls."""
    data = root / "botocore" / "data"
    for service in data.iterdir():
        if service.is_dir() and service.name not in BOTOCORE_SERVICES:
            shutil.rmtree(service)


def _outcomes(paths: list[Path]) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", _LOAD, *map(str, paths)], capture_output=True, text=True, check=True)
    outcomes: dict[str, str] = json.loads(done.stdout)
    return outcomes


def loader_refusal(path: Path) -> str:
    """Why Linux's loader would refuse to map ``path``'s loadable segments ("" if it would not)."""
    with path.open("rb") as file:
        header = file.read(64)
        if header[:4] != b"\x7fELF" or header[4] != ELF_CLASS_64:
            return "not a 64-bit ELF object"
        order = "<" if header[5] == ELF_LITTLE_ENDIAN else ">"
        (table,) = struct.unpack_from(order + "Q", header, 32)
        entry_size, entries = struct.unpack_from(order + "HH", header, 54)
        file.seek(table)
        segments = file.read(entry_size * entries)
    for index in range(entries):
        kind, _, offset, address, _, _, _, alignment = struct.unpack_from(
            order + "IIQQQQQQ", segments, index * entry_size
        )
        if kind != PT_LOAD:
            continue
        if (address - offset) % PAGE_SIZE:
            return f"loadable segment {index}: address/offset not page-aligned"
        if alignment % PAGE_SIZE:
            return f"loadable segment {index}: alignment not page-aligned"
    return ""


def _strip_tool(machine: str) -> str | None:
    if machine == platform.machine():
        return shutil.which("strip")
    return shutil.which(f"{machine}-linux-gnu-strip")


def strip_shared_objects(root: Path, machine: str) -> None:
    """Strip debug symbols where the result still loads as the original did."""
    strip = _strip_tool(machine)
    if strip is None:
        print(f"trim: shared objects left unstripped (no strip for {machine}: run `make build-tools`)")  # noqa: T201
        return
    local = machine == platform.machine()
    objects = sorted(p for p in root.rglob("*.so*") if p.is_file() and not p.is_symlink())
    before = _outcomes(objects) if local else {}
    with tempfile.TemporaryDirectory() as backup:
        originals = {}
        for index, path in enumerate(objects):
            originals[path] = Path(backup) / str(index)
            shutil.copy2(path, originals[path])
        subprocess.run([strip, "--strip-unneeded", *map(str, objects)], check=True)
        for path in objects:
            if loader_refusal(path):
                shutil.copy2(originals[path], path)
        # Put back what no longer loads as it did, until nothing changes (a dependency may be among them).
        for _ in range(len(objects) if local else 0):
            changed = [p for p, outcome in _outcomes(objects).items() if outcome != before[p]]
            if not changed:
                break
            for name in changed:
                shutil.copy2(originals[Path(name)], name)
        kept = [p.relative_to(root) for p in objects if p.read_bytes() == originals[p].read_bytes()]
    checks = "loader's segment checks and a load on this machine" if local else "loader's segment checks"
    stripped = len(objects) - len(kept)
    print(f"trim: stripped {stripped} of {len(objects)} shared objects ({checks}); left as built: {kept}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the layer's python/ directory")
    parser.add_argument("--botocore", action="store_true", help="keep only the botocore models pixelmill uses")
    parser.add_argument("--strip", metavar="MACHINE", help="strip shared objects built for MACHINE (uname -m)")
    args = parser.parse_args()
    remove_unused_files(args.root)
    if args.botocore:
        remove_unused_botocore_models(args.root)
    if args.strip:
        strip_shared_objects(args.root, args.strip)


if __name__ == "__main__":
    main()
