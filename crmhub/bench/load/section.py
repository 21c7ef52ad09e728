"""The ``load`` section of ``manage.py bench``: load with faults (``run.py``).

The run command's stack (the console's web processes, the sandbox CRMs' one, worker(s),
beat) on its own data, over an index of
``--contacts`` contacts: the sandbox CRMs hold ``people`` each (``min(--contacts, 2000)``
unless ``people`` says otherwise), synced into the index, and the rest is written
straight into it for archive connections no sync touches during the run (``archive.py``;
people matched, so searches and lists run over the whole index). 20 users browse and
search while a bulk act over the ``people`` contacts of the AllClients sandbox and two
full syncs run, a worker ``kill -9``-ed every minute; ``seconds`` of load (120 by
default; the issue's run is ``--option seconds=600``), then up to 300 s for the actions
to end.

Options (``--option KEY=VALUE``; each also as ``load_KEY``):

* ``stack=embedded`` (default: SQLite and the filesystem broker, one worker) or
  ``stack=postgres`` (PostgreSQL and Redis, two workers). The PostgreSQL server is
  ``database_url`` or ``$LOAD_DATABASE_URL`` (default
  ``postgres://crmhub:crmhub@127.0.0.1:5432/postgres``; the role needs CREATEDB: a
  database ``crmhub_load_<random>`` is created for the run and dropped after it). Redis is
  ``broker_url`` or ``$LOAD_BROKER_URL``, else ``$CELERY_BROKER_URL``'s server, always on
  database 14, emptied before and after the run.
* ``web_processes`` (2): processes serving the console (``CRMHUB_WEB_PROCESSES``; the
  sandbox CRMs have a process of their own).
* ``seconds`` (120): how long the users browse, ``users`` (20), ``workers``,
  ``kill_every`` (60), ``settle`` (300), ``people`` (per sandbox CRM).
"""

from __future__ import annotations

import os

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.load.run import LoadResult, load_run
from crmhub.bench.load.stack import with_redis_db

SECTION = "load"
DEFAULT_DATABASE = "postgres://crmhub:crmhub@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
REDIS_DB = 14
#: How the CPU rows name the processes that are not the stack's own (web, worker0, beat...).
CPU_NAMES = {
    "users": "the bench's users (its threads)",
    "queries": "the bench's manage.py queries",
}


def _option(ctx: BenchContext, name: str, default: object) -> str:
    value = ctx.options.get(f"load_{name}", ctx.options.get(name))
    return str(default if value in (None, "") else value)


def _broker_url(ctx: BenchContext) -> str:
    given = _option(ctx, "broker_url", os.environ.get("LOAD_BROKER_URL", ""))
    if given:
        return given
    configured = os.environ.get("CELERY_BROKER_URL", "")
    if configured.startswith(("redis://", "rediss://")):
        return with_redis_db(configured, REDIS_DB)
    return DEFAULT_REDIS


def section(ctx: BenchContext) -> list[Row]:
    """Run the stack under load with faults; return its rows."""
    stack = _option(ctx, "stack", "embedded")
    if stack not in ("embedded", "postgres"):
        raise ValueError(f"stack must be 'embedded' or 'postgres', not {stack!r}")
    postgres = stack == "postgres"
    database_url = _option(ctx, "database_url", os.environ.get("LOAD_DATABASE_URL", ""))
    result = load_run(
        workdir=ctx.workdir / "stack",
        stack=stack,
        duration=float(_option(ctx, "seconds", 120)),
        users=int(_option(ctx, "users", 20)),
        people=int(_option(ctx, "people", min(ctx.contacts, 2000))),
        contacts=ctx.contacts,
        workers=int(_option(ctx, "workers", 2 if postgres else 1)),
        web_processes=int(_option(ctx, "web_processes", 2)),
        kill_every=float(_option(ctx, "kill_every", 60)),
        settle=float(_option(ctx, "settle", 300)),
        database_url=(database_url or DEFAULT_DATABASE) if postgres else None,
        broker_url=_broker_url(ctx) if postgres else None,
        write=ctx.write,
    )
    return rows(result)


def rows(result: LoadResult) -> list[Row]:
    """Return the figures of a load run as bench rows."""
    label = f"{result.stack}, {result.web_processes} web process(es), {result.workers} worker(s)"
    if result.server:
        label += f" ({result.server})"
    errors = ", ".join(f"{kind} {n}" for kind, n in sorted(result.errors.items()))
    states = result.states
    syncs = ", ".join(f"{s['kind']} {s['state']}" for s in result.syncs)
    return [
        Row(SECTION, f"stack: {label}; {result.users} users; {result.seconds:.0f} s of load",
            result.seconds, "s"),
        Row(SECTION, "contacts in the index (synced + archive)", result.index_contacts,
            "contacts"),
        Row(SECTION, "of them archived (written directly; no sync during the run)",
            result.archive_contacts, "contacts"),
        Row(SECTION, "people in the index (contacts matched)", result.index_people, "people"),
        Row(SECTION, "user requests", result.requests, "requests"),
        Row(SECTION, "machine load average (1 min) at the end of the load",
            result.load_average[1], "load"),
        *(
            Row(SECTION, f"CPU of {CPU_NAMES.get(name, name)} during the load "
                f"({result.cpu_share(spent):.0f}% of one core)", spent, "s")
            for name, spent in result.cpu.items()
        ),
        Row(SECTION, f"CPU of the whole machine during the load "
            f"({result.cpu_share(result.machine_cpu):.0f}% of one core)", result.machine_cpu, "s"),
        Row(SECTION, "  of which elsewhere: the database server's, other work's "
            f"({result.cpu_share(result.cpu_elsewhere):.0f}% of one core)",
            result.cpu_elsewhere, "s"),
        Row(SECTION, "page time p50", result.percentile(0.5), "ms"),
        Row(SECTION, "page time p95", result.percentile(0.95), "ms", target="<= 200 ms"),
        Row(SECTION, "search (as you type) p95", result.percentile(0.95, result.search_ms), "ms",
            target="<= 150 ms"),
        Row(SECTION, f"bulk act confirmation (page; {result.bulk_size} actions)",
            result.bulk_submit_ms, "ms", target="<= 1000 ms"),
        Row(SECTION, f"user errors ({errors or 'none'})", result.user_errors, "requests",
            target="0"),
        Row(SECTION, "'database is locked' seen by users", result.locked_users, "pages",
            target="0"),
        Row(SECTION, "'database is locked' in task/worker logs and stored errors",
            result.locked_tasks, "count", target="0"),
        Row(SECTION, "worker kill -9", result.kills, "count"),
        Row(SECTION, "tracebacks in the processes' logs", sum(result.tracebacks.values()),
            "count"),
        Row(SECTION, "processes that died on their own", len(result.exited), "count",
            target="0"),
        Row(SECTION, "bulk act succeeded", states.get("succeeded", 0), "actions",
            baseline=result.bulk_size, baseline_label="bulk size"),
        Row(SECTION, "bulk act unknown (worker killed mid-send; check and resend)",
            states.get("unknown", 0), "actions"),
        Row(SECTION, "bulk act failed or cancelled",
            states.get("failed", 0) + states.get("cancelled", 0), "actions"),
        Row(SECTION, "states contradicting the sandbox ledger", len(result.untruthful),
            "actions", target="0"),
        Row(SECTION, "duplicates in the sandbox ledger", result.duplicates, "calls", target="0"),
        Row(SECTION, "lost (not final after the grace period)", result.lost, "actions",
            target="0"),
        Row(SECTION, "drain after the load (actions and syncs ended)", result.drain_seconds, "s"),
        Row(SECTION, f"syncs during load not final ({syncs or 'none'})",
            result.syncs_not_final, "syncs", target="0"),
    ]  # fmt: skip
