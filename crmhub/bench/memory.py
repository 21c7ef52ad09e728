"""``bench --section memory``: the peak RSS of a process running a full sync and its matching.

The section seeds the AllClients sandbox with ``--contacts`` people, serves it from a
process of its own and syncs it in another: ``python -c CHILD <connection id>`` (Django
set up first, the bench's database URLs in the environment), which runs ``child`` and
prints one JSON line of figures. The child does what the sync task does after a first
sync (the pass, person matching, the search index merged) and records the high-water
mark of its resident memory (``VmHWM``) over each step, so the table says which step
holds the peak.

Not ``ru_maxrss``: a child started with ``subprocess`` (``vfork`` + ``exec``) inherits the
high-water mark of the process that started it, so its ``ru_maxrss`` is at least what the
seeding process reached (at 1,000,000 contacts that read 173 MB where the sync's own peak
was 134 MB). ``VmHWM`` is the process's own. Where the kernel lets the mark be reset
(``/proc/self/clear_refs``) each step's peak is exact, with no sampling to miss a short
spike; otherwise it is the peak so far (never lower than the truth).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.db.models import Max

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.processes import served_in_process
from crmhub.bench.sync import KIND, bench_connection, sync_timed
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact
from crmhub.contacts.search import search_index_compact
from crmhub.contacts.sync.passes import PAGE_SIZE, pipeline_contacts
from crmhub.sandbox.services import sandbox_seed

CHILD = (
    "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'crmhub.settings'); "
    "django.setup(); from crmhub.bench.memory import child; child()"
)
TARGET_MB = 150


def _status_mb(field: str) -> float:
    """Return the ``field`` (``VmRSS``, ``VmHWM``) of this process's status, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_reset() -> bool:
    """Reset this process's RSS high-water mark to its RSS now; return whether it could."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def _sqlite_highwater_mb() -> float | None:
    """Return the most memory SQLite itself allocated so far (None where unknown)."""
    try:
        library = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return None
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    return float(library.sqlite3_memory_highwater(0)) / 2**20


def _backend_stat_path() -> str | None:
    """Return the ``/proc`` stat file of this process's PostgreSQL server process, when the
    server runs on this machine and lets it be read (None otherwise: SQLite, a remote)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    path = f"/proc/{pid}/stat"
    return path if os.access(path, os.R_OK) else None


def _cpu_seconds(stat_path: str | None) -> float:
    """Return the CPU seconds (user + system) of this process, or of the process whose
    ``/proc`` stat file is ``stat_path``."""
    if stat_path is None:
        times = os.times()
        return times.user + times.system
    with open(stat_path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _cpu(figures: dict[str, float], step: str, server: str | None) -> Iterator[None]:
    """Record under ``step`` the CPU seconds of the block: this process's (``worker``) and
    its PostgreSQL server process's (``server``, when ``server`` is its stat file)."""
    worker_before = _cpu_seconds(None)
    server_before = _cpu_seconds(server) if server else 0.0
    try:
        yield
    finally:
        figures[f"{step}_worker"] = _cpu_seconds(None) - worker_before
        if server:
            figures[f"{step}_server"] = _cpu_seconds(server) - server_before


def _checkpoints() -> dict[str, int] | None:
    """Return PostgreSQL's checkpoint counts so far (``requested``: forced by the WAL
    reaching ``max_wal_size``; ``timed``), or None on SQLite."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        if cursor.fetchone()[0] >= 170000:  # the counts moved to a view of their own in 17
            cursor.execute("SELECT num_requested, num_timed FROM pg_stat_checkpointer")
        else:
            cursor.execute("SELECT checkpoints_req, checkpoints_timed FROM pg_stat_bgwriter")
        requested, timed = cursor.fetchone()
    return {"requested": requested, "timed": timed}


def _max_wal_mb() -> float | None:
    """Return PostgreSQL's ``max_wal_size`` in MB (None on SQLite)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT setting::bigint, unit FROM pg_settings WHERE name = 'max_wal_size'")
        value, unit = cursor.fetchone()
    return value * {"MB": 1, "kB": 1 / 1024, "GB": 1024}.get(unit, 1)


@contextmanager
def _peak(peaks: dict[str, float], step: str) -> Iterator[bool]:
    """Record under ``step`` the peak RSS of the block (``VmHWM``, reset before it); yield
    whether it was reset (if not, the figure is the process's peak so far)."""
    exact = _peak_reset()
    try:
        yield exact
    finally:
        peaks[step] = _status_mb("VmHWM")


def child() -> None:
    """Sync the connection named on the command line, match, merge; print the figures."""
    peaks = {"start": _status_mb("VmHWM")}
    start = _status_mb("VmRSS")
    cpu: dict[str, float] = {}
    server = _backend_stat_path()
    checkpoints = _checkpoints()
    with _peak(peaks, "sync") as exact, _cpu(cpu, "sync", server):
        run, seconds = sync_timed(int(sys.argv[1]))
    if checkpoints is not None:
        after = _checkpoints() or checkpoints
        checkpoints = {name: after[name] - count for name, count in checkpoints.items()}
    with _peak(peaks, "matching"), _cpu(cpu, "matching", server):
        started = time.perf_counter()
        persons_match()
        matching = time.perf_counter() - started
    with _peak(peaks, "merge"):
        search_index_compact(written=run.created + run.updated)
    figures = {
        "fetched": run.fetched, "seconds": seconds, "peak_mb": max(peaks.values()),
        "start_mb": start, "peaks": peaks, "matching_s": matching,
        "sqlite_mb": _sqlite_highwater_mb(), "exact": exact, "cpu": cpu,
        "checkpoints": checkpoints, "max_wal_mb": _max_wal_mb(),
    }  # fmt: skip
    print(json.dumps(figures))


def _cpu_rows(cpu: dict[str, float], fetched: int) -> list[Row]:
    """Return the rows of the CPU seconds of the pass and the matching, per 100,000
    contacts: the syncing process's, and its PostgreSQL server process's where known."""
    per = 100_000 / max(fetched, 1)
    names = {"sync": "the pass", "matching": "person matching"}
    sides = {"worker": "the syncing process", "server": "its PostgreSQL server process"}
    return [
        Row("memory", f"  CPU of {sides[side]} in {names[step]}, per 100,000 contacts",
            cpu[f"{step}_{side}"] * per, "s")
        for step in names for side in sides if f"{step}_{side}" in cpu
    ]  # fmt: skip


def _server_rows(checkpoints: dict[str, int] | None, max_wal_mb: float | None) -> list[Row]:
    """Return the rows of PostgreSQL's checkpoints during the pass and its ``max_wal_size``
    (none on SQLite): a checkpoint forced by the WAL's size makes every page written after
    it log a whole image of itself once more."""
    if checkpoints is None or max_wal_mb is None:
        return []
    return [
        Row("memory", "  the PostgreSQL server's max_wal_size", max_wal_mb, "MB"),
        Row("memory", "  its checkpoints during the pass, forced by the WAL's size",
            checkpoints["requested"], "count"),
        Row("memory", "  its checkpoints during the pass, timed", checkpoints["timed"], "count"),
    ]  # fmt: skip


def section(ctx: BenchContext) -> list[Row]:
    """Return the peak RSS of a process syncing ``--contacts`` contacts, and its speed."""
    ctx.write(f"memory: seeding the AllClients sandbox with {ctx.contacts} people ...")
    sandbox_seed(people=ctx.contacts, kinds=(KIND,), reset=True)
    with served_in_process() as url:
        connection = bench_connection(url, name="bench memory")
        ctx.write("memory: syncing in a process of its own ...")
        seeding_mb = _status_mb("VmHWM")  # what the child's ru_maxrss would start from
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(connection.pk)],
            cwd=settings.BASE_DIR,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"memory sync failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    last = Contact.objects.aggregate(last=Max("pk"))["last"]
    peaks = figures["peaks"]
    during = "during" if figures["exact"] else "up to the end of"
    speed_target = ">= 9,000/s at 1M" if ctx.contacts >= 1_000_000 else ">= 10,000/s at 100k"
    if figures.get("max_wal_mb") is not None:  # PostgreSQL: the scale-out stack's target
        speed_target = ">= 10,000/s at 1M"
    rows = [
        Row("memory", f"peak RSS of a {figures['fetched']}-contact sync and its matching",
            figures["peak_mb"], "MB", target=f"<= {TARGET_MB} MB at 1M"),
        Row("memory", "  RSS of the same process before the sync", figures["start_mb"], "MB"),
        Row("memory", "  peak RSS of its start (Django set up)", peaks["start"], "MB"),
        Row("memory", f"  peak RSS {during} the sync's pass", peaks["sync"], "MB"),
        Row("memory", f"  peak RSS {during} person matching", peaks["matching"], "MB"),
        Row("memory", f"  peak RSS {during} the search index merge", peaks["merge"], "MB"),
        Row("memory", f"  contacts in the sync's pipeline, at most (pages of {PAGE_SIZE})",
            pipeline_contacts(), "contacts"),
        Row("memory", "  its speed", figures["fetched"] / figures["seconds"], "contacts/s",
            target=speed_target),
        Row("memory", "  person matching after it", figures["matching_s"], "s"),
        *_cpu_rows(figures["cpu"], figures["fetched"]),
        *_server_rows(figures.get("checkpoints"), figures.get("max_wal_mb")),
        Row("memory", "  contacts in the index", float(last or 0), "rows"),
        Row("memory", "  not counted: peak RSS of the seeding process (a child's ru_maxrss "
            "inherits it)", seeding_mb, "MB"),
    ]  # fmt: skip
    if figures["sqlite_mb"] is not None:
        rows.insert(6, Row("memory", "  of which SQLite's own allocations, at most",
                           figures["sqlite_mb"], "MB"))  # fmt: skip
    return rows
