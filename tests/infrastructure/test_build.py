"""A real ``sam build`` (no Docker, no local python3.13) and what it produces.

The artifacts are checked statically: the library layers hold cp313 binaries that
this 3.11 machine cannot load, so nothing built here is imported. Both architectures
are built (x86_64, the default, and arm64); most checks run on both.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from layers import trim
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


LIBRARY_LAYERS = ("CoreLayer", "ImagingLayer")
IMAGING = ("PIL", "pillow_heif", "rasterio", "numpy", "zlib_ng")
IMAGING_FUNCTIONS = {"ProcessorFunction", "RenderFunction"}
"""The functions that run transforms: the worker and the image URLs' renderer."""
# Targets: the API with its layers, and the processor leaving 50 MiB of Lambda's 250 MiB free.
API_TARGET_BYTES = 60 * 1024 * 1024
PROCESSOR_TARGET_BYTES = 200 * 1024 * 1024

# Lambda's limit for a function and all its layers, unzipped.
UNZIPPED_LIMIT_BYTES = 262_144_000
# Amazon Linux 2023, the python3.13 runtime's OS, has glibc 2.34.
LAMBDA_GLIBC = (2, 34)
ELF_MACHINE_X86_64 = 0x3E
ELF_MACHINE_AARCH64 = 0xB7
ELF_MACHINES = {"x86_64": ELF_MACHINE_X86_64, "arm64": ELF_MACHINE_AARCH64}
WHEEL_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
MIB = 1024 * 1024


@pytest.fixture(params=["x86_64", "arm64"])
def build(request: pytest.FixtureRequest) -> SamBuild:
    """Each architecture's ``sam build`` (built once per session)."""
    fixture = "sam_build" if request.param == "x86_64" else "sam_build_arm64"
    result: SamBuild = request.getfixturevalue(fixture)
    return result


def _artifact(build: SamBuild, logical_id: str) -> Path:
    properties = build.template["Resources"][logical_id]["Properties"]
    return build.directory / str(properties.get("CodeUri") or properties.get("ContentUri"))


def _layer_ids(build: SamBuild, function_id: str) -> list[str]:
    layers = function_properties(build.template, function_id).get("Layers", [])
    return [str(ref_target(layer)) for layer in layers]


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _library(build: SamBuild, layer: str) -> Path:
    return _artifact(build, layer) / "python"


def test_every_function_and_layer_is_built(build: SamBuild) -> None:
    for resource_type in (FUNCTION, LAYER):
        for logical_id in resources_of_type(build.template, resource_type):
            artifact = _artifact(build, logical_id)
            assert artifact.is_dir(), f"{logical_id}: no {artifact}"
            assert any(artifact.iterdir()), f"{logical_id}: {artifact} is empty"


def test_built_functions_hold_their_handler(sam_build: SamBuild) -> None:
    for logical_id, properties in functions(sam_build.template).items():
        module, _, name = str(properties["Handler"]).rpartition(".")
        source = _artifact(sam_build, logical_id) / f"{module}.py"
        assert source.is_file(), logical_id
        assert defines_function(source, name), logical_id
        assert not (_artifact(sam_build, logical_id) / "Makefile").exists(), logical_id


def test_layers_put_their_code_under_python(build: SamBuild) -> None:
    for logical_id in resources_of_type(build.template, LAYER):
        # Lambda puts /opt/python on sys.path: nothing else belongs at the layer's root
        assert [p.name for p in _artifact(build, logical_id).iterdir()] == ["python"], logical_id
    assert (_artifact(build, "PixelmillLayer") / "python" / "pixelmill" / "__init__.py").is_file()


def test_each_function_with_its_layers_fits_the_unzipped_limit(build: SamBuild) -> None:
    for logical_id in functions(build.template):
        # Given the function's code and the layers it uses
        parts = {logical_id: _tree_size(_artifact(build, logical_id))}
        parts.update({layer: _tree_size(_artifact(build, layer)) for layer in _layer_ids(build, logical_id)})
        total = sum(parts.values())
        MEASURED[f"{logical_id} + layers, unzipped ({build.architecture})"] = (
            f"{total / MIB:.1f} MiB, {total / UNZIPPED_LIMIT_BYTES:.2f} of Lambda's 250 MiB ("
            + ", ".join(f"{name} {size / MIB:.2f} MiB" for name, size in parts.items())
            + ")"
        )
        # Then together they stay under Lambda's 250 MiB
        assert total < UNZIPPED_LIMIT_BYTES, MEASURED[f"{logical_id} + layers, unzipped ({build.architecture})"]


def _with_layers(build: SamBuild, logical_id: str) -> int:
    return _tree_size(_artifact(build, logical_id)) + sum(
        _tree_size(_artifact(build, layer)) for layer in _layer_ids(build, logical_id)
    )


def test_api_function_with_its_layers_is_within_its_target(build: SamBuild) -> None:
    total = _with_layers(build, "ApiFunction")
    MEASURED[f"ApiFunction + layers / 60 MiB target ({build.architecture})"] = f"{total / API_TARGET_BYTES:.2f}"
    assert total / API_TARGET_BYTES <= 1, f"ApiFunction + layers: {total / MIB:.1f} MiB, target 60 MiB"


def test_processor_with_its_layers_leaves_50_mib_of_lambdas_limit(build: SamBuild) -> None:
    total = _with_layers(build, "ProcessorFunction")
    MEASURED[f"ProcessorFunction + layers / 200 MiB target ({build.architecture})"] = (
        f"{total / PROCESSOR_TARGET_BYTES:.2f}"
    )
    assert total / PROCESSOR_TARGET_BYTES <= 1, f"ProcessorFunction + layers: {total / MIB:.1f} MiB, target 200 MiB"


def test_only_the_functions_that_transform_have_the_imaging_layer(build: SamBuild) -> None:
    for logical_id in functions(build.template):
        layers = _layer_ids(build, logical_id)
        assert layers[:2] == ["PixelmillLayer", "CoreLayer"], logical_id
        assert ("ImagingLayer" in layers) == (logical_id in IMAGING_FUNCTIONS), logical_id
    core = _library(build, "CoreLayer")
    assert [name for name in IMAGING if (core / name).exists()] == []
    assert all((_library(build, "ImagingLayer") / name).is_dir() for name in IMAGING)


def test_the_imaging_layer_is_trimmed(build: SamBuild) -> None:
    imaging = _library(build, "ImagingLayer")
    assert [p for p in imaging.rglob("tests") if p.is_dir()] == []
    assert list(imaging.rglob("__pycache__")) == []
    assert list(imaging.rglob("*.pyi")) == []
    # Shared objects are stripped (the largest, GDAL, has no symbol table left), and each still passes
    # the loader's segment checks (layers/trim.py puts back what strip broke).
    objects = [p for p in imaging.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    assert [p.name for p in objects if trim.loader_refusal(p)] == []
    gdal = next(p for p in objects if p.name.startswith("libgdal"))
    sections = subprocess.run(["readelf", "--section-headers", "--wide", str(gdal)], capture_output=True, text=True)
    assert sections.returncode == 0, sections.stderr
    assert ".symtab" not in sections.stdout


def test_the_core_layer_holds_the_model_of_every_aws_service_the_code_calls(build: SamBuild) -> None:
    # botocore's models are trimmed to the services pixelmill calls (layers/trim.py)
    sources = [*(REPO_ROOT / "layers" / "shared").rglob("*.py"), *(REPO_ROOT / "functions").rglob("*.py")]
    called = {
        name for source in sources for name in re.findall(r"""client\(\s*["']([a-z0-9-]+)["']""", source.read_text())
    }
    assert called >= {"s3", "dynamodb", "sqs"}
    models = _library(build, "CoreLayer") / "botocore" / "data"
    assert sorted(name for name in called if not (models / name).is_dir()) == []


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2, f"{path} is not 64-bit"  # EI_CLASS: ELFCLASS64
    return int.from_bytes(header[18:20], "little")


def test_library_layers_hold_cp313_linux_binaries_of_their_architecture(build: SamBuild) -> None:
    machine, wheel_machine = ELF_MACHINES[build.architecture], WHEEL_MACHINES[build.architecture]
    python = _library(build, "ImagingLayer")
    # Pillow's core, built for CPython 3.13 on this architecture's Linux
    imaging = python / "PIL" / f"_imaging.cpython-313-{wheel_machine}-linux-gnu.so"
    assert imaging.is_file(), sorted(p.name for p in (python / "PIL").glob("_imaging*"))
    assert _elf_machine(imaging) == machine
    for layer in LIBRARY_LAYERS:
        python = _library(build, layer)
        # Every versioned extension is for 3.13 and every shared object is of the architecture
        extensions = [p for p in python.rglob("*.so*") if p.is_file()]
        assert extensions, layer
        wrong_version = [
            p.name for p in extensions if re.search(r"cpython-3\d+", p.name) and "cpython-313-" not in p.name
        ]
        assert wrong_version == []
        assert {p.name: _elf_machine(p) for p in extensions if _elf_machine(p) != machine} == {}
        # Nothing from the local 3.11 (no extension modules, no bytecode)
        assert [p.name for p in python.rglob("*") if "311" in p.name and re.search(r"cp311|cpython-311", p.name)] == []
        assert list(python.rglob("__pycache__")) == []


def _manylinux_glibc(platform: str, machine: str) -> tuple[int, int] | None:
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    match = re.fullmatch(
        rf"(manylinux1|manylinux2010|manylinux2014)_{machine}|manylinux_(\d+)_(\d+)_{machine}", platform
    )
    if not match:
        return None
    if match.group(1):
        return legacy[match.group(1)]
    return int(match.group(2)), int(match.group(3))


def test_every_wheel_in_the_library_layers_runs_on_lambda_python313(build: SamBuild) -> None:
    machine = WHEEL_MACHINES[build.architecture]
    wheels = sorted(wheel for layer in LIBRARY_LAYERS for wheel in _library(build, layer).glob("*.dist-info/WHEEL"))
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
            glibc = _manylinux_glibc(platform, machine)
            assert glibc is not None, f"{wheel.parent.name}: {tag} is not manylinux {machine}"
            assert glibc <= LAMBDA_GLIBC, f"{wheel.parent.name}: {tag} needs a newer glibc than Lambda's"
            assert abi in {"cp313", "abi3"}, f"{wheel.parent.name}: {tag}"


def _lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _installed(python: Path) -> dict[str, str]:
    installed = {}
    for dist_info in python.glob("*.dist-info"):
        name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
        installed[re.sub(r"[-_.]+", "-", name).lower()] = version
    return installed


def test_library_layers_together_are_exactly_the_runtime_lock(build: SamBuild) -> None:
    # Given the pins of requirements/runtime.txt and the distributions in each library layer
    pins = _lock_pins(REPO_ROOT / "requirements" / "runtime.txt")
    core, imaging = (_installed(_library(build, layer)) for layer in LIBRARY_LAYERS)
    # Then no distribution is in both, and together they hold those versions and nothing else
    assert set(core) & set(imaging) == set()
    assert {**core, **imaging} == pins


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
        # (pixelmill.transforms, the implementations, are loaded by the processor only: registry.load)
        shared = [
            p for p in pixelmill.rglob("*.py") if logical_id == "ProcessorFunction" or "transforms" not in p.parts
        ]
        for source in [*code.rglob("*.py"), *shared]:
            for name in load_time_imports(source):
                if name not in stdlib and not importable_from(name, roots):
                    missing.setdefault(name, []).append(str(source.relative_to(sam_build.directory)))
        # Then every import resolves (a lazy import inside a function is not checked)
        assert missing == {}, f"{logical_id} could not import: {missing}"
