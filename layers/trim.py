"""Trim a built layer's python/ directory: what Lambda never loads goes.

Always: tests, bytecode caches, type stubs, Cython and C headers.
``--botocore``: botocore's API models of the services pixelmill does not call
(about 20 MiB of JSON; the kept ones are BOTOCORE_SERVICES).
``--strip MACHINE``: debug symbols of the shared objects, when this machine can
check the result (it is MACHINE): every file is loaded with ctypes before and
after ``strip --strip-unneeded``, and a file whose outcome changes is put back
(strip breaks some libraries patchelf rewrote, e.g. numpy's OpenBLAS: "ELF load
command address/offset not page-aligned"). A Python extension built for 3.13
fails to load here on the interpreter's symbols, before and after alike: what is
compared is that the file still maps.

Runs with the build machine's python3 (standard library only).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BOTOCORE_SERVICES = frozenset({"dynamodb", "s3", "secretsmanager", "sqs", "sts", "xray"})
"""Clients the functions create (pixelmill.dal: dynamodb, s3, sqs, secretsmanager), the credential chain's sts,
and X-Ray's sampling client. tests/infrastructure checks the code creates no other."""

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


def strip_shared_objects(root: Path, machine: str) -> None:
    """Strip debug symbols where the result still loads as the original did."""
    strip = shutil.which("strip")
    if machine != platform.machine() or strip is None:
        print(f"trim: shared objects left unstripped (cannot check {machine} objects on {platform.machine()})")  # noqa: T201
        return
    objects = sorted(p for p in root.rglob("*.so*") if p.is_file() and not p.is_symlink())
    before = _outcomes(objects)
    with tempfile.TemporaryDirectory() as backup:
        originals = {}
        for index, path in enumerate(objects):
            originals[path] = Path(backup) / str(index)
            shutil.copy2(path, originals[path])
        subprocess.run([strip, "--strip-unneeded", *map(str, objects)], check=True)
        # Put back what no longer loads as it did, until nothing changes (a dependency may be among them).
        for _ in range(len(objects)):
            changed = [p for p, outcome in _outcomes(objects).items() if outcome != before[p]]
            if not changed:
                break
            for name in changed:
                shutil.copy2(originals[Path(name)], name)
        kept = [p.relative_to(root) for p in objects if p.read_bytes() == originals[p].read_bytes()]
    print(f"trim: stripped {len(objects) - len(kept)} of {len(objects)} shared objects; left as built: {kept}")  # noqa: T201


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
