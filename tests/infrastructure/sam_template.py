"""Reading template.yaml and the code it points at, for the infrastructure tests.

The template is parsed with ``infra.template.load_template`` (the loader the local
resources are provisioned with), which turns the short intrinsic tags into their JSON form (``!Ref X`` → ``{"Ref": "X"}``, ``!GetAtt A.B`` →
``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` → ``{"Fn::Sub": s}``). Handlers are read
with ``ast``, never imported: they need the layers' libraries and AWS settings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.template import TEMPLATE_PATH as TEMPLATE_PATH
from infra.template import load_template as _load_template

REPO_ROOT = Path(__file__).resolve().parents[2]

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

Template = dict[str, Any]
Route = tuple[str, str]  # (METHOD, /path/{param})


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    """The template as plain data, intrinsic functions in their JSON form."""
    return _load_template(path)


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id → resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    # SAM's rules: maps merge (the function wins), lists are the globals' items then the function's.
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return [*global_value, *local_value]
    return local_value


def function_properties(template: Template, logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's ``Globals.Function`` applied, as SAM does."""
    own: dict[str, Any] = template["Resources"][logical_id].get("Properties", {})
    globals_: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    merged: dict[str, Any] = _merge_globals(globals_, own)
    return merged


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """Logical id → effective properties (globals applied) of every function."""
    return {
        logical_id: function_properties(template, logical_id) for logical_id in resources_of_type(template, FUNCTION)
    }


def environment(properties: dict[str, Any]) -> dict[str, Any]:
    """A function's environment variables (values may be intrinsics)."""
    variables: dict[str, Any] = properties.get("Environment", {}).get("Variables", {})
    return variables


def ref_target(value: Any) -> str | None:
    """The logical id or parameter a ``{"Ref": ...}`` names, else None."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return None


def getatt_target(value: Any) -> tuple[str, str] | None:
    """``(logical id, attribute)`` of a ``Fn::GetAtt``, else None."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        parts = target.split(".", 1) if isinstance(target, str) else list(target)
        return str(parts[0]), str(parts[1])
    return None


def resource_text(value: Any) -> str:
    """An IAM resource as text: ``!Sub`` strings as written, ``!GetAtt A.Arn`` as ``${A.Arn}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    getatt = getatt_target(value)
    if getatt:
        return "${" + ".".join(getatt) + "}"
    ref = ref_target(value)
    if ref:
        return "${" + ref + "}"
    return repr(value)


def inline_statements(properties: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The statements of a function's inline policy documents (not SAM policy templates)."""
    policies = properties.get("Policies", [])
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, dict) and "Statement" in policy:
            yield from policy["Statement"]


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else a one-item list."""
    return list(value) if isinstance(value, list) else [value]


def api_routes(properties: dict[str, Any]) -> set[Route]:
    """``(METHOD, path)`` of every ``Api`` event of a function."""
    routes: set[Route] = set()
    for event in properties.get("Events", {}).values():
        if event.get("Type") == "Api":
            routes.add((str(event["Properties"]["Method"]).upper(), normalize_path(event["Properties"]["Path"])))
    return routes


def normalize_path(path: str) -> str:
    """Powertools ``<param>`` as API Gateway's ``{param}``, no trailing slash (powertools strips it)."""
    path = re.sub(r"<(\w+)>", r"{\1}", path)
    return path.rstrip("/") or "/"


def handler_file(properties: dict[str, Any]) -> tuple[Path, str]:
    """The handler's source file and function name: ``app.lambda_handler`` in ``functions/api``."""
    module, _, function_name = str(properties["Handler"]).rpartition(".")
    return REPO_ROOT / str(properties["CodeUri"]) / (module.replace(".", "/") + ".py"), function_name


def defines_function(source: Path, name: str) -> bool:
    """True if the module defines ``name`` at top level (a ``def`` or an assignment)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return True
    return False


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _methods(node: ast.expr | None) -> list[str]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [m.upper() for m in (_string(e) for e in node.elts) if m]
    method = _string(node)
    return [method.upper()] if method else []


def handler_routes(source_dir: Path) -> set[Route]:
    """Routes the powertools resolver in ``source_dir`` serves, read from the code.

    Recognised: ``@app.get("/p")`` (and post/put/patch/delete/...) on any resolver or
    router object, ``@app.route("/p", method=...)``, and ``app.enable_swagger(path=...)``,
    which serves its UI (GET) at that path.
    """
    routes: set[Route] = set()
    for source in sorted(source_dir.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name == "enable_swagger":
                routes.add(("GET", normalize_path(_string(_keyword(node, "path")) or "/swagger")))
                continue
            if name not in (*HTTP_METHODS, "route"):
                continue
            rule = _string(node.args[0]) if node.args else _string(_keyword(node, "rule"))
            if rule is None or not rule.startswith("/"):
                continue
            if name == "route":
                methods = _methods(node.args[1] if len(node.args) > 1 else _keyword(node, "method"))
            else:
                methods = [name.upper()]
            routes.update((method, normalize_path(rule)) for method in methods)
    return routes


# Modules the python3.13 standard library no longer has (PEP 594 and lib2to3).
REMOVED_IN_313 = frozenset(
    {
        "aifc",
        "audioop",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "imghdr",
        "lib2to3",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "pipes",
        "sndhdr",
        "spwd",
        "sunau",
        "telnetlib",
        "uu",
        "xdrlib",
    }
)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _guards_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = as_list(handler.type.elts if isinstance(handler.type, ast.Tuple) else handler.type)
        if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
            return True
    return False


def load_time_imports(source: Path) -> set[str]:
    """Top-level names a module imports when it is loaded.

    Imports inside functions run later (on purpose: a lazy import); those under
    ``if TYPE_CHECKING:`` never run; those in ``try: ... except ImportError`` are
    optional. Relative imports stay inside the package.
    """
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                if not _guards_import_error(node):
                    visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef | ast.With):
                visit(node.body)

    visit(tree.body)
    return found


def importable_from(name: str, roots: list[Path]) -> bool:
    """True if top-level module ``name`` is a package, module or extension in one of ``roots``."""
    for root in roots:
        if (root / name).is_dir() or (root / f"{name}.py").is_file():
            return True
        if any(root.glob(f"{name}.*.so")) or (root / f"{name}.so").is_file():
            return True
    return False
