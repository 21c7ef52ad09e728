"""CPU time of a process tree, and of the whole machine, read from ``/proc`` (Linux).

A process's tree is the process and every live descendant; each counts its own user and
system time plus that of the children it has reaped (``cutime``/``cstime``), so a child
that ends and is waited for stays counted in its parent, and nothing is counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: str) -> tuple[int, float] | None:
    """Return ``(parent pid, CPU seconds with reaped children)`` of ``pid``, or None."""
    try:
        text = (PROC / pid / "stat").read_text()
    except OSError:  # gone, or not Linux
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = text[text.rindex(")") + 2 :].split()
    # Fields from 3 on: state, ppid, ..., utime (14), stime, cutime, cstime (17).
    ticks = sum(int(value) for value in fields[11:15])
    return int(fields[1]), ticks / TICKS


def tree_cpu_seconds(roots: Mapping[str, int]) -> dict[str, float]:
    """Return, for each name of ``roots`` (name: pid), the CPU seconds of that process and
    its live descendants (0 for a process that is gone)."""
    stats = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    spent = {}
    for name, root in roots.items():
        total, todo = 0.0, [root] if root in stats else []
        while todo:
            pid = todo.pop()
            total += stats[pid][1]
            todo += children.get(pid, [])
        spent[name] = total
    return spent


def own_cpu_seconds() -> float:
    """Return the CPU seconds of this process (all its threads), without its children."""
    times = os.times()
    return times.user + times.system


def children_cpu_seconds() -> float:
    """Return the CPU seconds of this process's children that have ended and been waited for."""
    times = os.times()
    return times.children_user + times.children_system


def machine_cpu_seconds() -> float:
    """Return the CPU seconds every core of the machine has spent busy since it started.

    Busy is user, nice, system, interrupt and steal time: everything but idle and I/O wait.
    Over a load it counts what no process tree above shows, a database server's processes
    first (0.0 where ``/proc/stat`` cannot be read).
    """
    try:
        with (PROC / "stat").open() as stat:
            first = stat.readline().split()
    except OSError:
        return 0.0
    if not first or first[0] != "cpu":
        return 0.0
    # cpu  user nice system idle iowait irq softirq steal (guest time is inside user)
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS
