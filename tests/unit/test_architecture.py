"""The layering, enforced: each check imports code in a fresh interpreter and
looks at what it loaded (or makes a library unimportable and imports anyway).

- Only the functions that transform (processor, render) load the imaging
  libraries (Pillow, rasterio, numpy), and only when they run one; the other
  handlers ship without them.
- logic and the store interfaces reach no module that imports boto3, botocore or the dal.
- transforms import with boto3, botocore and pixelmill.dal absent.
- No function's module imports another function's.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pixelmill.catalog import registry

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
PACKAGE = SHARED / "pixelmill"
IMAGING = ("PIL", "pillow_heif", "rasterio", "numpy", "zlib_ng")
HANDLERS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter that sees only the shared layer (as on Lambda); its stdout."""
    env = {"PYTHONPATH": str(SHARED), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _loaded_by_handler(function: str, *, packages: bool = True) -> set[str]:
    """The modules importing ``function``'s handler loads: top-level packages, or every module."""
    path = ROOT / "functions" / function / "app.py"
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('app', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = set(json.loads(_run(code)))
    return {name.split(".")[0] for name in loaded} if packages else loaded


@pytest.mark.parametrize("function", [name for name in HANDLERS if name not in ("processor", "render")])
def test_only_the_functions_that_transform_load_the_imaging_libraries(function: str) -> None:
    loaded = _loaded_by_handler(function)
    assert not loaded & set(IMAGING), f"{function} loads {sorted(loaded & set(IMAGING))}"


@pytest.mark.parametrize("function", ["processor", "render"])
def test_the_functions_that_transform_load_an_implementation_only_when_they_run_it(function: str) -> None:
    # Importing the handler loads no imaging library: a raster-only warm container never loads Pillow.
    assert not _loaded_by_handler(function) & set(IMAGING)


def test_the_sweeper_loads_no_catalog() -> None:
    # It only fails tasks nothing will run again: every function's argument models are cold-start cost.
    loaded = _loaded_by_handler("sweeper", packages=False)
    assert not {name for name in loaded if name.startswith(("pixelmill.catalog", "pixelmill.transforms"))}


def _import_without(blocked: tuple[str, ...], modules: list[str]) -> None:
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None  # import raises ImportError\n"
        f"for name in {modules!r}: __import__(name)\n"
    )
    _run(code)


def _modules(package: str) -> list[str]:
    return sorted(
        f"pixelmill.{package}.{path.stem}" if path.stem != "__init__" else f"pixelmill.{package}"
        for path in (PACKAGE / package).glob("*.py")
    )


def _runtime_imports(module: str) -> set[str]:
    """Modules ``module`` imports when it runs (not those under ``if TYPE_CHECKING:``)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    tree = ast.parse(path.read_text())
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _is_module(name: str) -> bool:
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return name.startswith("pixelmill.") and (path.is_dir() or path.with_suffix(".py").exists())


def _closure(roots: list[str]) -> dict[str, set[str]]:
    """Every pixelmill module ``roots`` reach through imports, with what each imports."""
    graph: dict[str, set[str]] = {}
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in graph:
            continue
        graph[module] = _runtime_imports(module)
        todo.extend(name for name in graph[module] if _is_module(name))
    return graph


def test_logic_and_the_store_interfaces_need_no_aws_sdk() -> None:
    # A static import contract: powertools' tracer loads botocore for itself, but no pixelmill
    # module that logic reaches imports boto3, botocore or the dal.
    graph = _closure([*_modules("logic"), "pixelmill.stores", "pixelmill.catalog"])
    offenders = {
        module: sorted(
            name for name in imports if name.split(".")[0] in ("boto3", "botocore") or name.startswith("pixelmill.dal")
        )
        for module, imports in graph.items()
    }
    assert not {module: names for module, names in offenders.items() if names}


def test_transforms_need_neither_dal_nor_the_aws_sdk() -> None:
    _import_without(("boto3", "botocore", "pixelmill.dal"), _modules("transforms"))


def test_the_catalog_loads_no_imaging_library() -> None:
    loaded = json.loads(
        _run(
            "import json, sys, pixelmill.catalog, pixelmill.formats\n"
            "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))\n"
        )
    )
    assert not set(loaded) & {*IMAGING, "boto3", "botocore"}


@pytest.mark.parametrize("package", ["catalog", "transforms"])
def test_no_function_imports_another(package: str) -> None:
    functions = set(registry.names())
    for name in functions:
        path = PACKAGE / package / f"{name}.py"
        assert path.exists(), f"{name} has no module in {package}/"
        others = {f"pixelmill.{layer}.{other}" for other in functions - {name} for layer in ("catalog", "transforms")}
        assert not _runtime_imports(f"pixelmill.{package}.{name}") & others, (
            f"{package}/{name}.py imports another function"
        )
