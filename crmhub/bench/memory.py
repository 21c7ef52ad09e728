"""``bench --section memory``: the peak RSS of a process running a full sync and its matching.

The section seeds the AllClients sandbox with ``--contacts`` people, serves it from a
process of its own and syncs it in another: ``python -c CHILD <connection id>`` (Django
set up first, the bench's database URLs in the environment), which runs ``child`` and
prints one JSON line of figures.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

from django.conf import settings
from django.db.models import Max

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.processes import served_in_process
from crmhub.bench.sync import KIND, bench_connection, sync_timed
from crmhub.contacts.matching import persons_match
from crmhub.contacts.models import Contact
from crmhub.sandbox.services import sandbox_seed

CHILD = (
    "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'crmhub.settings'); "
    "django.setup(); from crmhub.bench.memory import child; child()"
)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child() -> None:
    """Sync the connection named on the command line, then match; print the figures."""
    start = _rss_mb()
    run, seconds = sync_timed(int(sys.argv[1]))
    persons_match()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"fetched": run.fetched, "seconds": seconds, "peak_mb": peak, "start_mb": start})
    )


def section(ctx: BenchContext) -> list[Row]:
    """Return the peak RSS of a process syncing ``--contacts`` contacts."""
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
    return [
        Row("memory", f"peak RSS of a {figures['fetched']}-contact sync and its matching",
            figures["peak_mb"], "MB", target="< 500 MB"),
        Row("memory", "  RSS of the same process before the sync", figures["start_mb"], "MB"),
        Row("memory", "  its speed", figures["fetched"] / figures["seconds"], "contacts/s"),
        Row("memory", "  contacts in the index", float(last or 0), "rows"),
    ]  # fmt: skip
