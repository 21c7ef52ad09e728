"""The ``load`` section of ``manage.py bench``: load with faults on the embedded default."""

from __future__ import annotations

import os

from crmhub.core.bench import BenchContext, Row, register
from crmhub.loadtest.run import load_run


@register("load")
def load(ctx: BenchContext) -> list[Row]:
    result = load_run(
        workdir=ctx.workdir / "load",
        duration=float(str(ctx.options.get("load_seconds", 120))),
        users=int(str(ctx.options.get("load_users", 20))),
        people=int(str(ctx.options.get("load_people", 2000))),
        workers=int(str(ctx.options.get("load_workers", 1))),
        kill_every=60,
        database_url=os.environ.get("LOAD_DATABASE_URL"),
        broker_url=os.environ.get("LOAD_BROKER_URL"),
        write=ctx.write,
    )
    done = result.states.get("succeeded", 0)
    return [
        Row("load", "page p50 (20 users, kill -9 each minute)", result.p50, "ms"),
        Row("load", "page p95", result.percentile(0.95), "ms", target="reported"),
        Row("load", "pages served", len(result.page_ms), "requests"),
        Row("load", "page errors (5xx or no answer)", result.page_errors, "count", target="0"),
        Row("load", "'database is locked' seen", result.locked, "count", target="0"),
        Row("load", "worker kill -9", result.kills, "count"),
        Row(
            "load",
            "bulk actions succeeded",
            done,
            "actions",
            baseline=result.bulk_size,
            baseline_label="bulk size",
        ),
        Row(
            "load",
            "bulk actions unknown (killed mid-send)",
            result.states.get("unknown", 0),
            "actions",
        ),
        Row("load", "bulk actions failed", result.states.get("failed", 0), "actions"),
        Row("load", "actions stuck (not final)", result.stuck, "actions", target="0"),
        Row("load", "duplicates in the sandbox ledger", result.duplicates, "count", target="0"),
    ]
