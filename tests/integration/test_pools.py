"""Nothing waits behind a person or a sync: one pool per queue, as the Procfile starts them.

Two Collect! plans wait for answers nobody gives, a full sync of a slow CRM runs, and a bulk
of 200 acts is queued: the bulk runs at its rate limit and the sweeper keeps sweeping, on
real workers (one per queue, like ``scripts/run``), the real broker and the sandbox CRMs
over HTTP. With one pool for everything (the run command before), the two prompts alone
would hold both of its processes and nothing else would run.
"""

from __future__ import annotations

import re
import time

import pytest
from django.db.models import Max, Min

from crmhub.actions.models import Action, Attempt, Batch
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.services import sync_request
from crmhub.core import queues
from crmhub.sandbox import faults
from tests.conftest import wait_for
from tests.integration.harness import sandbox_connection

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

BULK = 200
RATE = 20.0
#: Each call to the simulated Apptivo takes this long, and its sync reads six pages of 500:
#: it outlasts the bulk.
SYNC_LATENCY_MS = 10_000
SYNC_PEOPLE = 3000
#: The pools of the Procfile: (name, queue, processes); beat runs beside housekeeping.
POOLS = (("housekeeping", queues.HOUSEKEEPING, 1), ("acts", queues.ACTIONS, 2),
         ("prompts", queues.PROMPTS, 2), ("sync", queues.SYNC, 1))  # fmt: skip
SWEEP = re.compile(r"crmhub\.actions\.tasks\.actions_sweep\[[^\]]+\] succeeded")


def _pools(workers):  # type: ignore[no-untyped-def]
    env = {"CRMHUB_PROMPT_TIMEOUT_SECONDS": "120"}
    started = {}
    for name, queue, size in POOLS:
        beat = name == "housekeeping"
        started[name] = workers(
            name, ready=False, queues=queue, concurrency=size, beat=beat, env=env
        )
    return {name: worker.wait_ready(timeout=90) for name, worker in started.items()}


def _sweeps(worker) -> int:  # type: ignore[no-untyped-def]
    return len(SWEEP.findall(worker.text()))


def test_a_bulk_runs_at_its_rate_while_prompts_wait_and_a_sync_runs(
    workers, sandbox_spec, operator
):
    debtors = sandbox_connection(sandbox_spec("collect", people=6))
    allclients = sandbox_connection(sandbox_spec("allclients", people=BULK), rate_limit=RATE)
    apptivo = sandbox_connection(sandbox_spec("apptivo", people=SYNC_PEOPLE))
    faults.configure("apptivo", latency_ms=SYNC_LATENCY_MS)
    try:
        _bulk_beside_prompts_and_a_sync(_pools(workers), debtors, allclients, apptivo, operator)
    finally:
        faults.reset("apptivo")
        # Let the sync end (its page in flight, then the rest at full speed) before the
        # test's databases go.
        wait_for(
            lambda: not SyncRun.objects.filter(state=SyncRun.State.RUNNING).exists(),
            timeout=90,
            message="the sync did not end",
        )


def _bulk_beside_prompts_and_a_sync(pools, debtors, allclients, apptivo, operator):  # type: ignore[no-untyped-def]
    # Two plans ask their question; nobody answers.
    plans = [
        action_enqueue(
            operation="run_plan", connection=debtors, contact=debtor, params={"plan": "PRM"},
            user=operator,
        )
        for debtor in Contact.objects.filter(connection=debtors, record_type="debtor")[:2]
    ]  # fmt: skip
    assert {plan.queue for plan in plans} == {queues.PROMPTS}
    wait_for(
        lambda: Action.objects.filter(state=Action.State.NEEDS_INPUT).count() == 2,
        timeout=60,
        message="the two plans did not reach their prompts",
    )
    # A long sync runs.
    run = sync_request(connection=apptivo, mode="full", requested_by="test")
    wait_for(
        lambda: SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).exists(),
        timeout=60,
        message="the sync did not start",
    )
    # The bulk.
    sweeps_before = _sweeps(pools["housekeeping"])
    batch = batch_enqueue(
        operation="run_action_set",
        connection=allclients,
        params={"action_set_id": "103"},
        user=operator,
        contact_ids=list(
            Contact.objects.filter(connection=allclients).values_list("pk", flat=True)
        ),
    )
    assert batch.size == BULK
    wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, state=Batch.State.FINISHED).exists(),
        timeout=BULK / RATE * 6 + 30,
        interval=0.5,
        message="the bulk did not finish beside the waiting prompts and the running sync",
    )
    sweeps = _sweeps(pools["housekeeping"]) - sweeps_before

    actions = Action.objects.filter(batch=batch)
    assert actions.filter(state=Action.State.SUCCEEDED).count() == BULK
    assert set(actions.values_list("queue", flat=True)) == {queues.ACTIONS}
    # Meanwhile the plans still wait for their answers and the sync still runs.
    assert Action.objects.filter(state=Action.State.NEEDS_INPUT).count() == 2
    assert SyncRun.objects.get(pk=run.pk).state == SyncRun.State.RUNNING
    # At its rate: from the first claim to the last outcome, at least 40% of the limit (the
    # limit is the ceiling; two cores shared with the sandbox, the sync and the test).
    span = Attempt.objects.filter(action__batch=batch).aggregate(
        first=Min("started_at"), last=Max("finished_at")
    )
    seconds = (span["last"] - span["first"]).total_seconds()
    achieved = BULK / seconds
    print(f"bulk of {BULK}: {achieved:.1f} acts/s (limit {RATE:g}/s) in {seconds:.1f} s")
    assert achieved >= RATE * 0.4, f"{achieved:.1f} acts/s"
    # The sweeper kept running all along (every second here), and finished the batch.
    assert sweeps >= seconds / 2, f"{sweeps} sweeps in {seconds:.0f} s"


def test_a_prompting_plan_waits_in_its_own_pool_and_a_quiet_one_runs_beside(
    workers, sandbox_spec, operator
):
    """Both prompts slots hold waiting plans; a plan that never prompts still runs."""
    debtors = sandbox_connection(sandbox_spec("collect", people=8))
    workers(
        "all-but-prompts",
        queues=f"{queues.HOUSEKEEPING},{queues.ACTIONS}",
        beat=True,
        env={"CRMHUB_PROMPT_TIMEOUT_SECONDS": "120"},
    )
    workers(
        "prompts",
        queues=queues.PROMPTS,
        concurrency=2,
        env={"CRMHUB_PROMPT_TIMEOUT_SECONDS": "120"},
    )
    contacts = list(Contact.objects.filter(connection=debtors, record_type="debtor")[:3])
    for debtor in contacts[:2]:
        action_enqueue(
            operation="run_plan", connection=debtors, contact=debtor, params={"plan": "PRM"},
            user=operator,
        )  # fmt: skip
    wait_for(
        lambda: Action.objects.filter(state=Action.State.NEEDS_INPUT).count() == 2,
        timeout=60,
        message="the two plans did not reach their prompts",
    )
    quiet = action_enqueue(
        operation="run_plan", connection=debtors, contact=contacts[2], params={"plan": "REV"},
        user=operator,
    )  # fmt: skip
    assert quiet.queue == queues.ACTIONS
    started = time.monotonic()
    done = wait_for(
        lambda: Action.objects.filter(pk=quiet.pk, state=Action.State.SUCCEEDED).first(),
        timeout=30,
        message="a plan that never prompts waited behind the prompts",
    )
    assert done.result["data"]["plan"] == "REV"
    assert time.monotonic() - started < 30
    assert Action.objects.filter(state=Action.State.NEEDS_INPUT).count() == 2
