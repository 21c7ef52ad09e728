"""``bench --section freshness``: how long a change in a CRM takes to reach the index.

The four sandbox CRMs (``freshness_people`` people each, 300 by default) are served by
their own process; one connection per CRM syncs every ``freshness_interval`` minutes (1)
through the real scheduler: a ``celery worker`` with beat, whose dispatcher runs every 5 s
and queues the syncs that are due. Once every connection's first full pass is done, records
are changed in the sandbox at random times over ``freshness_seconds`` (90), each change
marking one record's last name with a token; the index is polled until each token shows.
Reported: p50 / p95 lag from change to index, per way of staying fresh, beside the target
p95 ≤ the sync interval + 60 s. Apptivo lists what changed since an instant
(``lastUpdateDate``: incremental runs); AllClients, Collect! and CRM.COM declare no such
listing (``supports_incremental``), so only full passes bring their changes in.
Options: ``freshness_people``, ``freshness_interval``, ``freshness_seconds``,
``freshness_changes`` (24), ``freshness_settle`` (seconds to wait for the last, 150).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from crmhub.bench.base import BenchContext, Row
from crmhub.bench.measure import percentile
from crmhub.bench.processes import Worker, served_in_process
from crmhub.bench.sandboxes import sandbox_connection
from crmhub.connections.kinds import kind_syncs_incrementally
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, SyncRun
from crmhub.sandbox.apptivo.customers import COLLECTION as CUSTOMERS
from crmhub.sandbox.apptivo.customers import customer_update
from crmhub.sandbox.models import Record
from crmhub.sandbox.services import sandbox_seed

SECTION = "freshness"
KINDS = ("allclients", "apptivo", "collect", "crmcom")
#: Where each simulated CRM keeps a contact's last name (collection, field).
LAST_NAME = {
    "allclients": ("contact", "lastname"),
    "collect": ("debtor", "de_name"),
    "crmcom": ("contact", "last_name"),
}
DISPATCH_SECONDS = "5"


@dataclass
class Change:
    kind: str
    token: str
    changed_at: float
    seen_at: float | None = None


def _option(ctx: BenchContext, name: str, default: float) -> float:
    return float(str(ctx.options.get(f"freshness_{name}", default)))


def record_change(*, kind: str, token: str, pick: random.Random) -> None:
    """Change one live contact of simulated CRM ``kind``: its last name gets ``token``."""
    if kind == "apptivo":
        ids = Record.objects.filter(kind=kind, collection=CUSTOMERS, deleted=False)
        customer_id = pick.choice(list(ids.values_list("remote_id", flat=True)))
        record = Record.objects.get(kind=kind, collection=CUSTOMERS, remote_id=customer_id)
        name = f"{record.data.get('customerName', '')} {token}".strip()
        customer_update(customer_id=customer_id, changes={"customerName": name})
        return
    collection, field = LAST_NAME[kind]
    rows = Record.objects.filter(kind=kind, collection=collection, deleted=False)
    record = rows.get(pk=pick.choice(list(rows.values_list("pk", flat=True))))
    value = str(record.data.get(field, ""))
    if kind == "collect":  # "Last, First"
        last, _, first = value.partition(", ")
        value = f"{last} {token}, {first}"
        record.data["de_modified"] = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        value = f"{value} {token}".strip()
    record.data[field] = value
    record.updated_at = timezone.now()
    record.save(update_fields=["data", "updated_at"])


def _indexed(connection: Connection, token: str) -> bool:
    names = Q(last_name__contains=token) | Q(full_name__contains=token)
    names |= Q(first_name__contains=token)
    return Contact.objects.filter(names, connection=connection, deleted_at__isnull=True).exists()


def _wait_first_passes(connections: dict[str, Connection], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = SyncRun.objects.filter(
            connection__in=connections.values(), state=SyncRun.State.SUCCEEDED
        )
        if set(done.values_list("connection_id", flat=True)) >= {
            c.pk for c in connections.values()
        }:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the first syncs did not all succeed in time")
        time.sleep(1)


def section(ctx: BenchContext) -> list[Row]:
    """Change sandbox records while scheduled syncs run; return the lag figures."""
    people = int(_option(ctx, "people", 300))
    interval = int(_option(ctx, "interval", 1))
    seconds = _option(ctx, "seconds", 90)
    count = int(_option(ctx, "changes", 24))
    settle = _option(ctx, "settle", 150)
    pick = random.Random(18)
    sandbox_seed(people=people, kinds=KINDS, reset=True)
    changes: list[Change] = []
    with served_in_process() as url:
        connections = {
            kind: sandbox_connection(
                kind=kind, public_url=url, name=f"Freshness {kind}",
                sync_interval_minutes=interval,
            )
            for kind in KINDS
        }  # fmt: skip
        env = {**os.environ, "CRMHUB_DISPATCH_SECONDS": DISPATCH_SECONDS}
        worker = Worker("freshness", ctx.workdir, beat=True, env=env)  # every queue
        try:
            worker.wait_ready(timeout=60)
            ctx.write(f"freshness: {people} people per CRM, syncs every {interval} min")
            _wait_first_passes(connections, timeout=180)
            at = sorted(pick.uniform(0, seconds) for _ in range(count))
            started = time.monotonic()
            ctx.write(f"freshness: {count} changes at random times over {seconds:.0f} s")
            while True:
                now = time.monotonic() - started
                while at and at[0] <= now:
                    at.pop(0)
                    kind = pick.choice(KINDS)
                    token = f"Fresh{len(changes):04d}x"
                    record_change(kind=kind, token=token, pick=pick)
                    changes.append(Change(kind, token, time.monotonic()))
                for change in changes:
                    if change.seen_at is None and _indexed(connections[change.kind], change.token):
                        change.seen_at = time.monotonic()
                pending = [c for c in changes if c.seen_at is None]
                if not at and not pending:
                    break
                if not at and time.monotonic() - changes[-1].changed_at > settle:
                    break
                time.sleep(0.5)
        finally:
            worker.terminate(timeout=30)
        runs = {
            kind: SyncRun.objects.filter(connection=connections[kind], state="succeeded")
            for kind in KINDS
        }
        counts = {
            kind: (done.filter(mode="full").count(), done.filter(mode="incremental").count())
            for kind, done in runs.items()
        }
    return _rows(changes, interval=interval, counts=counts)


def _rows(changes: list[Change], *, interval: int, counts: dict[str, tuple[int, int]]) -> list[Row]:
    target = f"p95 <= {interval * 60 + 60} s"
    rows = []
    groups = {
        "incremental (apptivo)": [c for c in changes if kind_syncs_incrementally(c.kind)],
        "full passes only (allclients, collect, crmcom)": [
            c for c in changes if not kind_syncs_incrementally(c.kind)
        ],
        "all CRMs": changes,
    }
    for label, group in groups.items():
        lags = [c.seen_at - c.changed_at for c in group if c.seen_at is not None]
        for share in (0.5, 0.95):
            rows.append(
                Row(SECTION, f"change to index p{int(share * 100)}, {label}",
                    percentile(lags, share), "s", float(interval * 60), "sync interval",
                    target if share == 0.95 else "")
            )  # fmt: skip
    missing = sum(1 for c in changes if c.seen_at is None)
    rows.append(Row(SECTION, f"changes made ({len(changes)}) not indexed by the end",
                    float(missing), "changes", target="0"))  # fmt: skip
    for kind, (full, incremental) in counts.items():
        way = "incremental + full" if kind_syncs_incrementally(kind) else "full only"
        rows.append(Row(SECTION, f"{kind} ({way}): syncs succeeded, full / incremental",
                        float(full), f"full, {incremental} incremental"))  # fmt: skip
    return rows
