"""``bench --section pools``: acts completed per second while two prompts wait and a sync runs.

The run command's pools (one worker per queue, as the Procfile starts them: housekeeping
with beat, acts, prompts, sync) on the configured broker; the sandbox CRMs served by their
own process. Two Collect! plans are started and wait for answers nobody gives; a full sync
of a simulated Apptivo whose every call takes ``pools_sync_latency_ms`` runs; then a bulk
RunActionSet of ``pools_size`` contacts through a connection limited to ``pools_rate``
requests/s (AllClients answering in ``pools_latency_ms``), carried out by an acts pool of
``pools_concurrency`` processes (8 by default, as many as the fanout section has).
Reported: the acts completed per second beside the limit, whether the prompts were still
waiting and the sync still running when the bulk ended, sweeps meanwhile, duplicates and
lost actions. With one pool for every queue (the run command before), the two prompts alone
held both of its processes: the bulk did not start until they timed out. Options (each
also without ``pools_``, e.g. ``--option rate=100``): ``pools_size``, ``pools_rate``,
``pools_latency_ms``, ``pools_sync_latency_ms``, ``pools_concurrency``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.db.models import Max, Min

from crmhub.actions import ratelimit
from crmhub.actions.models import Action, Attempt
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.bench.base import BenchContext, Row
from crmhub.bench.fanout import wait_done
from crmhub.bench.processes import Worker, served_in_process
from crmhub.bench.sandboxes import listing_index, sandbox_connection
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from crmhub.core import queues
from crmhub.sandbox import faults
from crmhub.sandbox.models import Call
from crmhub.sandbox.services import sandbox_seed

SECTION = "pools"
ACTION_SET_ID = "103"  # "New Client Onboarding": no Email action, so no contact is refused
SYNC_PEOPLE = 3000  # six pages of 500: the sync outlasts the bulk
SWEEP = re.compile(r"crmhub\.actions\.tasks\.actions_sweep\[[^\]]+\] succeeded")


def _option(context: BenchContext, name: str, default: float) -> float:
    value = context.options.get(f"pools_{name}", context.options.get(name))
    return float(str(default if value in (None, "") else value))


@contextmanager
def _pools(workdir: Path, concurrency: int) -> Iterator[dict[str, Worker]]:
    """Run one worker per queue, as the Procfile does, until the block ends."""
    sizes = {
        queues.HOUSEKEEPING: 1,
        queues.ACTIONS: concurrency,
        queues.PROMPTS: 2,
        queues.SYNC: 1,
    }
    with ExitStack() as stack:
        workers = {}
        for queue, size in sizes.items():
            worker = Worker(
                f"pools-{queue}", workdir, queues=queue, concurrency=size,
                beat=queue == queues.HOUSEKEEPING,
            )  # fmt: skip
            # Killed, not stopped: a warm shutdown would wait for the plans' answers.
            stack.callback(worker.kill)
            workers[queue] = worker
        for worker in workers.values():
            worker.wait_ready(timeout=90)
        yield workers


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"pools: {what} within {timeout:.0f} s")
        time.sleep(0.5)


def section(context: BenchContext) -> list[Row]:
    """Run the pools benchmark; return its rows."""
    size = int(_option(context, "size", 600))
    rate = _option(context, "rate", 40)
    latency_ms = int(_option(context, "latency_ms", 50))
    sync_latency_ms = int(_option(context, "sync_latency_ms", 10_000))
    concurrency = int(_option(context, "concurrency", 8))
    broker = "redis" if ratelimit.backend() == "redis" else "embedded"
    sandbox_seed(people=size, kinds=("allclients",), reset=True)
    sandbox_seed(people=6, kinds=("collect",), reset=True)
    sandbox_seed(people=SYNC_PEOPLE, kinds=("apptivo",), reset=True)
    with served_in_process() as url:
        acts = sandbox_connection(kind="allclients", public_url=url, name="Bulk", rate_limit=rate)
        contact_ids = listing_index(connection=acts, page_size=500)[:size]
        plans = sandbox_connection(kind="collect", public_url=url, name="Plans")
        listing_index(connection=plans)
        synced = sandbox_connection(kind="apptivo", public_url=url, name="Synced")
        Call.objects.all().delete()
        faults.configure("allclients", latency_ms=latency_ms)
        faults.configure("apptivo", latency_ms=sync_latency_ms)
        context.write(
            f"pools: {len(contact_ids)} RunActionSet at {rate:g}/s beside 2 waiting prompts "
            f"and a sync; acts pool of {concurrency}, {broker} broker"
        )
        try:
            with _pools(context.workdir, concurrency) as workers:
                rows = _measure(context, acts, plans, synced, contact_ids, rate, workers)
        finally:
            faults.reset("allclients")
            faults.reset("apptivo")
    return rows


def _measure(
    context: BenchContext,
    acts: Connection,
    plans: Connection,
    synced: Connection,
    contact_ids: list[int],
    rate: float,
    workers: dict[str, Worker],
) -> list[Row]:
    debtors = Contact.objects.filter(connection=plans, record_type="debtor").order_by("pk")[:2]
    for debtor in debtors:
        action_enqueue(
            operation="run_plan", connection=plans, contact=debtor, params={"plan": "PRM"},
            user=None,
        )  # fmt: skip
    waiting = Action.objects.filter(operation="run_plan", state=Action.State.NEEDS_INPUT)
    _wait(lambda: waiting.count() == 2, "the two plans did not reach their prompts")
    run = sync_request(connection=synced, mode="full", requested_by="bench")
    running = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING)
    _wait(running.exists, "the sync did not start")
    sweeps_before = len(SWEEP.findall(workers[queues.HOUSEKEEPING].text()))
    batch = batch_enqueue(
        operation="run_action_set",
        connection=acts,
        params={"action_set_id": ACTION_SET_ID},
        user=None,
        contact_ids=contact_ids,
    )
    timeout = len(contact_ids) / rate * 3 + 120
    left = wait_done(batch, timeout=timeout, write=context.write, label=SECTION)
    still_waiting, still_running = waiting.count(), int(running.exists())
    sweeps = len(SWEEP.findall(workers[queues.HOUSEKEEPING].text())) - sweeps_before
    actions = Action.objects.filter(batch=batch)
    done = actions.filter(state=Action.State.SUCCEEDED).count()
    span = Attempt.objects.filter(action__batch=batch).aggregate(
        first=Min("started_at"), last=Max("finished_at")
    )
    seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    applied = Counter(
        Call.objects.filter(kind="allclients", applied=True).values_list("effect", flat=True)
    )
    duplicates = sum(count - 1 for count in applied.values() if count > 1)
    context.write(f"pools: {done} acts in {seconds:.1f} s")
    per_second = done / seconds if seconds else 0.0
    return [
        Row(SECTION, "acts/s while 2 prompts wait and a sync runs", per_second, "acts/s",
            rate, "the limit", ">= 90%"),
        Row(SECTION, "prompts still waiting at the end", float(still_waiting), "plans", target="2"),
        Row(SECTION, "sync still running at the end", float(still_running), "syncs", target="1"),
        Row(SECTION, "sweeps during the bulk", float(sweeps), "sweeps",
            seconds / 5.0, "one per CRMHUB_SWEEP_SECONDS (5 s)"),
        Row(SECTION, "succeeded", float(done), "actions", float(batch.size), "the batch"),
        Row(SECTION, "duplicates (sandbox ledger)", float(duplicates), "calls", target="0"),
        Row(SECTION, "lost (not finished)", float(left), "actions", target="0"),
    ]  # fmt: skip
