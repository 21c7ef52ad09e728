"""``bench --section fanout``: a bulk RunActionSet through real workers, at the rate limit.

A batch of 2,000 RunActionSet (one per contact) against the AllClients sandbox, served by
its own process with 50 ms of injected latency, through a connection limited to 40
requests/s, carried out by 2 ``celery worker`` processes on the configured broker (the
embedded one, or Redis when ``CELERY_BROKER_URL`` says so). Reported: the achieved rate
beside the limit (the ceiling), the time from enqueue to done (p50 / p95) beside perfect
pacing, duplicates (changes the sandbox applied more than once, from its ledger) and lost
actions (not finished by the deadline), the share of the limit achieved and the workers'
CPU per action (their processes' CPU times). Options (each also without ``fanout_``, e.g.
``--option rate=100``): ``fanout_size``, ``fanout_rate``, ``fanout_latency_ms``,
``fanout_workers``, ``fanout_concurrency``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.db.models import Max, Min

from crmhub.actions import ratelimit
from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.services import batch_enqueue
from crmhub.bench.base import BenchContext, Row
from crmhub.bench.measure import percentile
from crmhub.bench.processes import Worker, served_in_process
from crmhub.bench.sandboxes import listing_index, sandbox_connection
from crmhub.sandbox import faults
from crmhub.sandbox.models import Call
from crmhub.sandbox.services import sandbox_seed

KIND = "allclients"
ACTION_SET_ID = "103"  # "New Client Onboarding": no Email action, so no contact is refused
SECTION = "fanout"


def _option(context: BenchContext, name: str, default: float) -> float:
    value = context.options.get(f"fanout_{name}", context.options.get(name))
    return float(str(default if value in (None, "") else value))


def _cpu_seconds(group: int) -> float:
    """Return the CPU seconds used so far by the processes of session ``group`` (Linux)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == group:  # the process group id
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextmanager
def _workers(count: int, concurrency: int, workdir: Path) -> Iterator[list[int]]:
    """Run ``count`` ``celery worker`` processes (the first with beat) until the block ends.

    Yields their process group ids (each worker leads its own session).
    """
    with ExitStack() as stack:
        workers = []
        for number in range(count):
            worker = Worker(f"fanout{number}", workdir, concurrency=concurrency, beat=number == 0)
            stack.callback(worker.terminate, timeout=30)
            workers.append(worker)
        for worker in workers:
            worker.wait_ready(timeout=60)
        yield [worker.pid for worker in workers]


def wait_done(
    batch: Batch, *, timeout: float, write: Callable[[str], None], label: str = SECTION
) -> int:
    """Wait until no action of ``batch`` is left to do; return how many still are."""
    open_states = (Action.State.QUEUED, Action.State.SENDING, Action.State.NEEDS_INPUT)
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        left = Action.objects.filter(batch=batch, state__in=open_states).count()
        if not left or time.monotonic() > deadline:
            return left
        if time.monotonic() - last_report > 10:
            write(f"{label}: {left} actions left")
            last_report = time.monotonic()
        time.sleep(0.5)


def section(context: BenchContext) -> list[Row]:
    """Run the fan-out benchmark; return its rows."""
    size = int(_option(context, "size", 2000))
    rate = _option(context, "rate", 40)
    latency_ms = int(_option(context, "latency_ms", 50))
    worker_count = int(_option(context, "workers", 2))
    concurrency = int(_option(context, "concurrency", 4))
    broker = "redis" if ratelimit.backend() == "redis" else "embedded"
    sandbox_seed(people=size, kinds=(KIND,), reset=True)
    with served_in_process() as url:
        connection = sandbox_connection(
            kind=KIND, public_url=url, name="Fan-out bench", rate_limit=rate
        )
        contact_ids = listing_index(connection=connection, page_size=500)[:size]
        Call.objects.filter(kind=KIND).delete()
        faults.configure(KIND, latency_ms=latency_ms)
        context.write(
            f"fanout: {len(contact_ids)} RunActionSet at {rate:g}/s, {latency_ms} ms latency, "
            f"{worker_count} workers x {concurrency}, {broker} broker"
        )
        with _workers(worker_count, concurrency, context.workdir) as groups:
            cpu_before = sum(_cpu_seconds(group) for group in groups)
            batch = batch_enqueue(
                operation="run_action_set",
                connection=connection,
                params={"action_set_id": ACTION_SET_ID},
                user=None,
                contact_ids=contact_ids,
            )
            left = wait_done(batch, timeout=len(contact_ids) / rate * 3 + 120, write=context.write)
            cpu = sum(_cpu_seconds(group) for group in groups) - cpu_before
        faults.reset(KIND)
    rows = _rows(batch, rate=rate, left=left, broker=broker)
    cpu_row = Row(SECTION, "worker CPU per action", cpu * 1000 / max(batch.size, 1), "ms")
    return [*rows, cpu_row]


def _rows(batch: Batch, *, rate: float, left: int, broker: str) -> list[Row]:
    actions = Action.objects.filter(batch=batch)
    states = Counter(actions.values_list("state", flat=True))
    done = actions.filter(state=Action.State.SUCCEEDED)
    span = Attempt.objects.filter(action__batch=batch).aggregate(
        first=Min("started_at"), last=Max("finished_at")
    )
    seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    achieved = done.count() / seconds if seconds else 0.0
    latencies = [
        (finished - created).total_seconds()
        for created, finished in done.values_list("created_at", "finished_at")
        if finished is not None  # set on every succeeded action
    ]
    ideal = [index / rate for index in range(1, batch.size + 1)]
    applied = Counter(Call.objects.filter(kind=KIND, applied=True).values_list("effect", flat=True))
    duplicates = sum(count - 1 for count in applied.values() if count > 1)
    label = f"{broker} broker"
    return [
        Row(SECTION, f"achieved rate ({label})", achieved, "req/s", rate, "the limit", ">= 90%"),
        Row(SECTION, f"share of the {rate:g}/s limit achieved", achieved * 100 / rate, "%",
            target=">= 90%"),
        Row(SECTION, "enqueue to done p50", percentile(latencies, 0.5), "s",
            percentile(ideal, 0.5), "perfect pacing"),
        Row(SECTION, "enqueue to done p95", percentile(latencies, 0.95), "s",
            percentile(ideal, 0.95), "perfect pacing"),
        Row(SECTION, "succeeded", float(states.get(Action.State.SUCCEEDED, 0)), "actions",
            float(batch.size), "the batch"),
        Row(SECTION, "failed or unknown",
            float(states.get(Action.State.FAILED, 0) + states.get(Action.State.UNKNOWN, 0)),
            "actions", target="0"),
        Row(SECTION, "duplicates (sandbox ledger)", float(duplicates), "calls", target="0"),
        Row(SECTION, "lost (not finished)", float(left), "actions", target="0"),
    ]  # fmt: skip
