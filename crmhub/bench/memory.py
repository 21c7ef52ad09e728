"""``bench --section memory``: the peak RSS of a process running a full sync and its matching.

The section seeds the AllClients sandbox with ``--contacts`` people, serves it from a
process of its own and syncs it in another: ``python -c CHILD <connection id>`` (Django
set up first, the bench's database URLs in the environment), which runs ``child`` and
prints one JSON line of figures. The child does what the sync task does after a first
sync (the pass, person matching, the search index merged) and samples its resident
memory meanwhile, so the table says which step holds the peak.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
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


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _sqlite_highwater_mb() -> float | None:
    """Return the most memory SQLite itself allocated so far (None where unknown)."""
    try:
        library = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return None
    library.sqlite3_memory_highwater.restype = ctypes.c_int64
    return float(library.sqlite3_memory_highwater(0)) / 2**20


@contextmanager
def _sampled(peaks: dict[str, float], step: str) -> Iterator[None]:
    """Record the peak RSS of the block under ``step`` (sampled every 20 ms)."""
    done = threading.Event()

    def sample() -> None:
        while True:
            peaks[step] = max(peaks.get(step, 0.0), _rss_mb())
            if done.wait(0.02):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()


def child() -> None:
    """Sync the connection named on the command line, match, merge; print the figures."""
    start = _rss_mb()
    peaks: dict[str, float] = {}
    with _sampled(peaks, "sync"):
        run, seconds = sync_timed(int(sys.argv[1]))
    with _sampled(peaks, "matching"):
        started = time.perf_counter()
        persons_match()
        matching = time.perf_counter() - started
    with _sampled(peaks, "merge"):
        search_index_compact(written=run.created + run.updated)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "fetched": run.fetched, "seconds": seconds, "peak_mb": peak, "start_mb": start,
        "peaks": peaks, "matching_s": matching, "sqlite_mb": _sqlite_highwater_mb(),
    }  # fmt: skip
    print(json.dumps(figures))


def section(ctx: BenchContext) -> list[Row]:
    """Return the peak RSS of a process syncing ``--contacts`` contacts, and its speed."""
    ctx.write(f"memory: seeding the AllClients sandbox with {ctx.contacts} people ...")
    sandbox_seed(people=ctx.contacts, kinds=(KIND,), reset=True)
    with served_in_process() as url:
        connection = bench_connection(url, name="bench memory")
        ctx.write("memory: syncing in a process of its own ...")
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
    speed_target = ">= 9,000/s at 1M" if ctx.contacts >= 1_000_000 else ">= 10,000/s at 100k"
    rows = [
        Row("memory", f"peak RSS of a {figures['fetched']}-contact sync and its matching",
            figures["peak_mb"], "MB", target=f"<= {TARGET_MB} MB at 1M"),
        Row("memory", "  RSS of the same process before the sync", figures["start_mb"], "MB"),
        Row("memory", "  peak RSS during the sync's pass", peaks["sync"], "MB"),
        Row("memory", "  peak RSS during person matching", peaks["matching"], "MB"),
        Row("memory", "  peak RSS during the search index merge", peaks["merge"], "MB"),
        Row("memory", f"  contacts in the sync's pipeline, at most (pages of {PAGE_SIZE})",
            pipeline_contacts(), "contacts"),
        Row("memory", "  its speed", figures["fetched"] / figures["seconds"], "contacts/s",
            target=speed_target),
        Row("memory", "  person matching after it", figures["matching_s"], "s"),
        Row("memory", "  contacts in the index", float(last or 0), "rows"),
    ]  # fmt: skip
    if figures["sqlite_mb"] is not None:
        rows.insert(5, Row("memory", "  of which SQLite's own allocations, at most",
                           figures["sqlite_mb"], "MB"))  # fmt: skip
    return rows
