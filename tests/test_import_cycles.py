"""No import circle between the modules of ``crmhub``.

The graph is read from the source with ``ast``: every ``import`` and ``from … import``
naming a ``crmhub`` module, at module level and inside functions alike (a deferred import
hides a circle, it does not remove it); only imports under ``if TYPE_CHECKING:`` are left
out (they never run). ``from package import name`` points at the module ``package.name``
when there is one, else at the package. Imports built from strings at run time
(``import_module``) are not in the graph.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "crmhub"

#: Circles tolerated for a while (each must still be found, so whoever removes one removes
#: it here too): none left since the sandbox's and the benches' went (issue 12).
KNOWN: set[frozenset[str]] = set()


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Return every module of the package by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Return the import statements under ``node``, those under ``if TYPE_CHECKING:`` left
    out (its ``else:`` runs, so it counts)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        elif isinstance(child, ast.If) and _type_checking(child.test):
            for other in child.orelse:
                found += [other] if isinstance(other, ast.Import | ast.ImportFrom) else []
                found += _imports(other)
        else:
            found += _imports(child)
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """Return the module ``name`` is, or the nearest package above it that is known."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Return the ``crmhub`` modules that ``module`` (at ``path``) imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for statement in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        else:
            base = statement.module or ""
            if statement.level:
                anchor = package.split(".")[: len(package.split(".")) - statement.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in statement.names
            ]
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                owner = _owner(name, known)
                if owner is not None and owner != module:
                    targets.add(owner)
    return targets


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Return the import graph of the package: module -> modules it imports."""
    known = modules(root)
    return {module: imports_of(module, path, known) for module, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Return the strongly connected sets of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.add(member)
                        if member == node:
                            break
                    if len(members) > 1:
                        found.append(frozenset(members))
    return found


def one_circle(graph: dict[str, set[str]], members: frozenset[str]) -> list[str]:
    """Return a shortest path from the first of ``members`` back to it, inside them."""
    start = min(members)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & members):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError(f"no circle through {start}")  # pragma: no cover


def _shown(graph: dict[str, set[str]], found: list[frozenset[str]]) -> str:
    return "\n".join(" -> ".join(one_circle(graph, members)) for members in found)


def test_no_import_circle_between_crmhub_modules():
    graph = import_graph()
    found = circles(graph)

    new = [members for members in found if members not in KNOWN]
    gone = [members for members in KNOWN if members not in found]
    assert not new, f"import circles:\n{_shown(graph, new)}"
    assert not gone, f"circles removed: take them out of KNOWN: {[sorted(m) for m in gone]}"


def test_the_graph_sees_deferred_imports_and_skips_type_checking_ones(tmp_path):
    package = tmp_path / PACKAGE
    (package / "app").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "app" / "__init__.py").write_text("")
    (package / "app" / "services.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from crmhub.app.models import Model\n"
        "else:\n    from crmhub.app import selectors\n"
        "def run():\n    from crmhub.app.tasks import task\n"
    )
    (package / "app" / "tasks.py").write_text("from . import services\n")
    (package / "app" / "models.py").write_text("from .services import run\n")
    (package / "app" / "selectors.py").write_text("from ..app.models import Model\n")

    graph = import_graph(tmp_path)

    assert graph["crmhub.app.services"] == {"crmhub.app.tasks", "crmhub.app.selectors"}
    assert graph["crmhub.app.tasks"] == {"crmhub.app.services"}
    assert graph["crmhub.app.selectors"] == {"crmhub.app.models"}
    assert circles(graph) == [
        frozenset({"crmhub.app.services", "crmhub.app.tasks", "crmhub.app.selectors",
                   "crmhub.app.models"})
    ]  # fmt: skip
    assert one_circle(graph, circles(graph)[0]) == [
        "crmhub.app.models", "crmhub.app.services", "crmhub.app.selectors", "crmhub.app.models"
    ]  # fmt: skip
