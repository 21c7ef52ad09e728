"""What a bench section gets (``BenchContext``) and returns (``Row``s), and the table of rows.

A section is a function taking a ``BenchContext`` and returning ``Row``s (the sections are
listed in ``sections.py``). Each row prints a measured figure beside its baseline (what a
user would otherwise have, or the physical ceiling) and their ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


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


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def table(rows: list[Row]) -> str:
    """Return ``rows`` as an aligned text table."""
    header = ("metric", "value", "unit", "baseline", "ratio", "target")
    lines = [header]
    for row in rows:
        baseline = _number(row.baseline)
        if baseline and row.baseline_label:
            baseline = f"{baseline} ({row.baseline_label})"
        ratio = f"{row.ratio:,.1f}x" if row.ratio is not None else ""
        lines.append(
            (f"{row.section}: {row.metric}", _number(row.value), row.unit, baseline, ratio,
             row.target)
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)
