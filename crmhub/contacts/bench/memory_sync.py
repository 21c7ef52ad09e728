"""Run a full sync and its matching here; print the peak RSS (``bench --section memory``).

Started as ``python -c COMMAND <connection id>`` (Django set up first, see ``COMMAND``),
with the bench's database URLs in the environment; prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


COMMAND = (
    "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'crmhub.settings'); "
    "django.setup(); from crmhub.contacts.bench.memory_sync import main; main()"
)


def main() -> None:
    """Sync the connection named on the command line, then match; print the figures."""
    from crmhub.contacts.bench.sync import sync_timed
    from crmhub.contacts.matching import persons_match

    start = _rss_mb()
    run, seconds = sync_timed(int(sys.argv[1]))
    persons_match()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"fetched": run.fetched, "seconds": seconds, "peak_mb": peak, "start_mb": start})
    )
