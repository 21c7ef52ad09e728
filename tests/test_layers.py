"""The import rules that keep the layers honest (docs: design.md, "Import rules").

Every module of an app is read with ``ast`` and each import in it (at module level, inside
functions, under ``TYPE_CHECKING``, relative, or ``import_module("...")`` with a literal
name) is checked against the rule: the domain apps import neither the sandbox nor the
bench; the connectors import no Django app (nor Django); the console imports nothing from
the connectors (no remote call inside a web request).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_APPS = ("actions", "contacts", "console", "connections", "connectors")
#: The project's own modules that set Django up.
PROJECT_MODULES = tuple(
    f"crmhub.{name}" for name in ("settings", "settings_test", "urls", "asgi", "wsgi", "celery")
)
#: Calls that import the module named by their first argument.
IMPORTERS = ("import_module", "__import__")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, *, package: bool = False) -> Iterator[tuple[int, str]]:
    """Yield (line, dotted name) of every import in ``source``, the source of ``module``.

    ``from a.b import c`` yields ``a.b.c`` (``c`` may be a module); relative imports are
    resolved against ``module`` (a package's ``__init__`` when ``package``).
    """
    base_parts = module.split(".") if package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                kept = base_parts[: len(base_parts) - node.level + 1]
                base = ".".join([*kept, node.module] if node.module else kept)
            else:
                base = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in IMPORTERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_of(target: str, *, root: Path = ROOT) -> Iterator[tuple[str, int, str]]:
    """Yield (path, line, dotted name) of every import in ``crmhub/<target>`` (a package,
    or a module given with its ``.py``)."""
    place = root / "crmhub" / target
    paths = [place] if place.is_file() else sorted(place.rglob("*.py"))
    assert paths, f"no module found under {place}"
    for path in paths:
        names = imported_names(
            path.read_text(), _module_name(path, root), package=path.name == "__init__.py"
        )
        for line, name in names:
            yield str(path.relative_to(root)), line, name


def offenders(
    target: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = (), *, root: Path = ROOT
) -> list[str]:
    """Return ``path:line name`` of each import in ``crmhub/<target>`` under a ``forbidden``
    prefix and under no ``allowed`` one."""
    return [
        f"{path}:{line} {name}"
        for path, line, name in imports_of(target, root=root)
        if any(_within(name, p) for p in forbidden) and not any(_within(name, p) for p in allowed)
    ]


def _django() -> tuple[str, ...]:
    """Return what a module free of Django must not import: Django, every installed app
    (crmhub's own included) and the project's Django modules."""
    from django.apps import apps

    return ("django", *(config.name for config in apps.get_app_configs()), *PROJECT_MODULES)


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_import_neither_the_sandbox_nor_the_bench(app):
    assert offenders(app, ("crmhub.sandbox", "crmhub.bench")) == []


def test_connectors_import_no_django_app_nor_django():
    assert "crmhub.contacts" in _django()
    assert offenders("connectors", _django()) == []


def test_what_the_connectors_import_from_the_rest_of_crmhub_is_free_of_django_too():
    outside = {
        name.split(".")[1]
        for _, _, name in imports_of("connectors")
        if _within(name, "crmhub") and not _within(name, "crmhub.connectors")
    }
    for module in sorted(outside):  # such as crmhub.redaction_words
        target = module if (ROOT / "crmhub" / module).is_dir() else f"{module}.py"
        assert offenders(target, _django()) == []


def test_console_imports_nothing_from_the_connectors():
    assert offenders("console", ("crmhub.connectors",)) == []


def test_the_scan_sees_every_form_of_import():
    source = (
        "import crmhub.sandbox.faults\n"
        "from crmhub import bench\n"
        "from ..sandbox import people\n"
        "def later():\n"
        "    from crmhub.bench.sections import SECTIONS\n"
        "    return import_module('crmhub.sandbox.registry')\n"
        "if TYPE_CHECKING:\n"
        "    from . import models\n"
    )
    names = [name for _, name in imported_names(source, "crmhub.contacts.search")]
    assert sorted(names) == [
        "crmhub.bench",
        "crmhub.bench.sections.SECTIONS",
        "crmhub.contacts.models",
        "crmhub.sandbox.faults",
        "crmhub.sandbox.people",
        "crmhub.sandbox.registry",
    ]


def test_a_forbidden_import_is_reported_with_its_place(tmp_path):
    app = tmp_path / "crmhub" / "someapp"
    app.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text("def view():\n    from crmhub.sandbox import faults\n")
    assert offenders("someapp", ("crmhub.sandbox",), root=tmp_path) == [
        "crmhub/someapp/views.py:2 crmhub.sandbox.faults"
    ]
