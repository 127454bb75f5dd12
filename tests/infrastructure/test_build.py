"""A real ``sam build`` (no Docker, no local python3.13) and what it produces.

The artifacts are checked statically: the dependency layer holds cp313 binaries that
this 3.11 machine cannot load, so nothing built here is imported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.infrastructure.sam_cli import MEASURED, SamBuild
from tests.infrastructure.sam_template import (
    FUNCTION,
    LAYER,
    REMOVED_IN_313,
    REPO_ROOT,
    defines_function,
    function_properties,
    functions,
    importable_from,
    load_time_imports,
    ref_target,
    resources_of_type,
)

pytestmark = pytest.mark.slow

# Lambda's limit for a function and all its layers, unzipped.
UNZIPPED_LIMIT_BYTES = 262_144_000
# Amazon Linux 2023, the python3.13 runtime's OS, has glibc 2.34.
LAMBDA_GLIBC = (2, 34)
ELF_MACHINE_X86_64 = 0x3E
MIB = 1024 * 1024


def _artifact(build: SamBuild, logical_id: str) -> Path:
    properties = build.template["Resources"][logical_id]["Properties"]
    return build.directory / str(properties.get("CodeUri") or properties.get("ContentUri"))


def _layer_ids(build: SamBuild, function_id: str) -> list[str]:
    layers = function_properties(build.template, function_id).get("Layers", [])
    return [str(ref_target(layer)) for layer in layers]


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _dependencies(build: SamBuild) -> Path:
    return _artifact(build, "DependenciesLayer") / "python"


def test_every_function_and_layer_is_built(sam_build: SamBuild) -> None:
    for resource_type in (FUNCTION, LAYER):
        for logical_id in resources_of_type(sam_build.template, resource_type):
            artifact = _artifact(sam_build, logical_id)
            assert artifact.is_dir(), f"{logical_id}: no {artifact}"
            assert any(artifact.iterdir()), f"{logical_id}: {artifact} is empty"


def test_built_functions_hold_their_handler(sam_build: SamBuild) -> None:
    for logical_id, properties in functions(sam_build.template).items():
        module, _, name = str(properties["Handler"]).rpartition(".")
        source = _artifact(sam_build, logical_id) / f"{module}.py"
        assert source.is_file(), logical_id
        assert defines_function(source, name), logical_id
        assert not (_artifact(sam_build, logical_id) / "Makefile").exists(), logical_id


def test_layers_put_their_code_under_python(sam_build: SamBuild) -> None:
    for logical_id in resources_of_type(sam_build.template, LAYER):
        # Lambda puts /opt/python on sys.path: nothing else belongs at the layer's root
        assert [p.name for p in _artifact(sam_build, logical_id).iterdir()] == ["python"], logical_id
    assert (_artifact(sam_build, "PixelmillLayer") / "python" / "pixelmill" / "__init__.py").is_file()


def test_each_function_with_its_layers_fits_the_unzipped_limit(sam_build: SamBuild) -> None:
    MEASURED["sam build"] = f"{sam_build.seconds:.1f} s"
    for logical_id in functions(sam_build.template):
        # Given the function's code and the layers it uses
        parts = {logical_id: _tree_size(_artifact(sam_build, logical_id))}
        parts.update({layer: _tree_size(_artifact(sam_build, layer)) for layer in _layer_ids(sam_build, logical_id)})
        total = sum(parts.values())
        MEASURED[f"{logical_id} + layers, unzipped"] = (
            f"{total / MIB:.1f} MiB of {UNZIPPED_LIMIT_BYTES / MIB:.0f} MiB ("
            + ", ".join(f"{name} {size / MIB:.2f} MiB" for name, size in parts.items())
            + ")"
        )
        # Then together they stay under Lambda's 250 MiB
        assert total < UNZIPPED_LIMIT_BYTES, MEASURED[f"{logical_id} + layers, unzipped"]


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2, f"{path} is not 64-bit"  # EI_CLASS: ELFCLASS64
    return int.from_bytes(header[18:20], "little")


def test_dependency_layer_holds_cp313_linux_x86_64_binaries(sam_build: SamBuild) -> None:
    python = _dependencies(sam_build)
    # Pillow's core, built for CPython 3.13 on x86_64 Linux
    imaging = python / "PIL" / "_imaging.cpython-313-x86_64-linux-gnu.so"
    assert imaging.is_file(), sorted(p.name for p in (python / "PIL").glob("_imaging*"))
    assert _elf_machine(imaging) == ELF_MACHINE_X86_64
    # Every versioned extension is for 3.13 and every shared object is x86_64
    extensions = [p for p in python.rglob("*.so*") if p.is_file()]
    assert extensions
    wrong_version = [p.name for p in extensions if re.search(r"cpython-3\d+", p.name) and "cpython-313-" not in p.name]
    assert wrong_version == []
    assert {p.name: _elf_machine(p) for p in extensions if _elf_machine(p) != ELF_MACHINE_X86_64} == {}
    # Nothing from the local 3.11 (no extension modules, no bytecode)
    assert [p.name for p in python.rglob("*") if "311" in p.name and re.search(r"cp311|cpython-311", p.name)] == []
    assert list(python.rglob("__pycache__")) == []


def _manylinux_glibc(platform: str) -> tuple[int, int] | None:
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    match = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_x86_64|manylinux_(\d+)_(\d+)_x86_64", platform)
    if not match:
        return None
    if match.group(1):
        return legacy[match.group(1)]
    return int(match.group(2)), int(match.group(3))


def test_every_wheel_in_the_dependency_layer_runs_on_lambda_python313(sam_build: SamBuild) -> None:
    wheels = sorted(_dependencies(sam_build).glob("*.dist-info/WHEEL"))
    assert wheels
    for wheel in wheels:
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        assert tags, wheel
        for tag in tags:
            interpreter, abi, platform = tag.split("-")
            if platform == "any":
                assert abi == "none", f"{wheel.parent.name}: {tag}"
                assert interpreter.startswith("py"), f"{wheel.parent.name}: {tag}"
                continue
            glibc = _manylinux_glibc(platform)
            assert glibc is not None, f"{wheel.parent.name}: {tag} is not manylinux x86_64"
            assert glibc <= LAMBDA_GLIBC, f"{wheel.parent.name}: {tag} needs a newer glibc than Lambda's"
            assert abi in {"cp313", "abi3"}, f"{wheel.parent.name}: {tag}"


def _lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def test_dependency_layer_is_exactly_the_runtime_lock(sam_build: SamBuild) -> None:
    # Given the pins of requirements/runtime.txt and the distributions in the layer
    pins = _lock_pins(REPO_ROOT / "requirements" / "runtime.txt")
    installed = {}
    for dist_info in _dependencies(sam_build).glob("*.dist-info"):
        name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
        installed[re.sub(r"[-_.]+", "-", name).lower()] = version
    # Then the layer holds those versions and nothing else
    assert installed == pins


def test_modules_import_only_what_the_function_and_its_layers_hold(sam_build: SamBuild) -> None:
    # python3.13's standard library: 3.11's (this interpreter) less the modules 3.13 removed
    stdlib = set(sys.stdlib_module_names) - REMOVED_IN_313
    pixelmill = _artifact(sam_build, "PixelmillLayer") / "python"
    for logical_id in functions(sam_build.template):
        # Given what the function sees on sys.path in Lambda: its code, then /opt/python of its layers
        code = _artifact(sam_build, logical_id)
        roots = [code, *(_artifact(sam_build, layer) / "python" for layer in _layer_ids(sam_build, logical_id))]
        assert pixelmill in roots, logical_id
        # When we read what its modules and the pixelmill package import as they load
        missing: dict[str, list[str]] = {}
        for source in [*code.rglob("*.py"), *pixelmill.rglob("*.py")]:
            for name in load_time_imports(source):
                if name not in stdlib and not importable_from(name, roots):
                    missing.setdefault(name, []).append(str(source.relative_to(sam_build.directory)))
        # Then every import resolves (a lazy import inside a function is not checked)
        assert missing == {}, f"{logical_id} could not import: {missing}"
