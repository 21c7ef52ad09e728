"""The benchmark command's sections (``manage.py bench``).

A section is a function taking a ``BenchContext`` and returning ``Row``s; modules register
theirs with ``@register("name")`` and are imported by the command (``SECTION_MODULES``).
Each row prints a measured figure beside its baseline (what a user would otherwise have,
or the physical ceiling) and their ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECTION_MODULES = (
    "crmhub.contacts.bench",
    "crmhub.actions.bench",
    "crmhub.console.bench",
    "crmhub.loadtest.bench",
)


@dataclass(frozen=True)
class Row:
    section: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0) or self.value == 0:
            return None
        return (
            self.baseline / self.value
            if self.unit in ("ms", "s", "MB")
            else self.value / self.baseline
        )


@dataclass
class BenchContext:
    contacts: int
    workdir: Path
    options: dict[str, object] = field(default_factory=dict)
    write: Callable[[str], None] = print


Section = Callable[[BenchContext], list[Row]]
SECTIONS: dict[str, Section] = {}


def register(name: str) -> Callable[[Section], Section]:
    def decorate(func: Section) -> Section:
        SECTIONS[name] = func
        return func

    return decorate
