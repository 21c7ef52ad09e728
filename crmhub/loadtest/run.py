"""Run the load-with-faults scenario and return its figures (``manage.py bench --section load``)."""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crmhub.loadtest.stack import Stack
from crmhub.loadtest.users import Users

FINAL = ("succeeded", "failed", "unknown", "cancelled")

SYNC_ALL = """
import json
from crmhub.connections.models import Connection
from crmhub.contacts.services import sync_request
runs = [sync_request(connection=c, mode="full", requested_by="load").pk
        for c in Connection.objects.filter(kind__in=%r)]
print(json.dumps(runs))
"""
CONTACTS = """
import json
from crmhub.contacts.models import Contact
print(json.dumps(Contact.objects.filter(connection__kind="allclients").count()))
"""
OPERATOR = """
import json
from django.contrib.auth.models import Group, User
user, _ = User.objects.get_or_create(username="load")
user.set_password(%r); user.save(); user.groups.add(Group.objects.get(name="operator"))
print(json.dumps(user.pk))
"""
BULK = """
import json
from django.contrib.auth.models import User
from crmhub.actions.services import batch_enqueue
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact
connection = Connection.objects.get(kind="allclients")
ids = list(Contact.objects.filter(connection=connection).values_list("pk", flat=True)[:%d])
batch = batch_enqueue(operation="run_action_set", connection=connection,
                      params={"action_set_id": 1}, user=User.objects.get(username="load"),
                      contact_ids=ids)
print(json.dumps(batch.pk))
"""
STATES = """
import json
from django.db.models import Count
from crmhub.actions.models import Action
rows = Action.objects.filter(batch_id=%d).values("state").annotate(n=Count("id"))
print(json.dumps({row["state"]: row["n"] for row in rows}))
"""
DUPLICATES = """
import json
from django.db.models import Count
from crmhub.sandbox.models import Call
calls = Call.objects.filter(kind="allclients", applied=True, effect__startswith="runactionset:")
print(json.dumps([calls.count(),
                  calls.values("effect").annotate(n=Count("id")).filter(n__gt=1).count()]))
"""


@dataclass
class LoadResult:
    seconds: float
    users: int
    kills: int
    page_ms: list[float] = field(default_factory=list)
    page_errors: int = 0
    locked: int = 0
    states: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    bulk_size: int = 0

    @property
    def stuck(self) -> int:
        return sum(n for state, n in self.states.items() if state not in FINAL)

    def percentile(self, share: float) -> float:
        if not self.page_ms:
            return 0.0
        ordered = sorted(self.page_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.page_ms) if self.page_ms else 0.0


def load_run(
    *,
    workdir: Path,
    duration: float = 120,
    users: int = 20,
    people: int = 2000,
    workers: int = 1,
    kill_every: float = 60,
    database_url: str | None = None,
    broker_url: str | None = None,
    settle: float = 600,
    write: Callable[[str], None] = print,
) -> LoadResult:
    """Run the stack under load with ``kill -9``s; return what happened."""
    stack = Stack(workdir, workers=workers, database_url=database_url, broker_url=broker_url)
    write(f"load: preparing {people} people per sandbox CRM in {workdir}")
    stack.manage("migrate", "--noinput")
    stack.manage("migrate", "--database", "sandbox", "--noinput")
    stack.manage("demo", "--people", str(people))
    password = secrets.token_urlsafe(16)
    stack.query(OPERATOR % password)
    stack.start()
    try:
        stack.query(SYNC_ALL % (["allclients"],))
        _wait(lambda: stack.query(CONTACTS) >= people, 600, "the first sync did not finish")
        browsing = Users(stack.url, "load", password, users)
        browsing.start()
        write(
            f"load: {users} users browsing; bulk act of {people} and a sync; kill -9 every "
            f"{kill_every:.0f} s for {duration:.0f} s"
        )
        batch_id = stack.query(BULK % people)
        stack.query(SYNC_ALL % (["allclients", "crmcom"],))
        started = time.monotonic()
        next_kill = started + kill_every
        while time.monotonic() - started < duration:
            time.sleep(0.5)
            if time.monotonic() >= next_kill:
                stack.kill_worker(0)
                next_kill += kill_every
        browsing.stop()
        _wait(
            lambda: not set(stack.query(STATES % batch_id)) - set(FINAL),
            settle,
            "actions did not settle",
            must=False,
        )
        result = LoadResult(seconds=time.monotonic() - started, users=users, kills=stack.kills)
        result.page_ms = [hit.ms for hit in browsing.hits]
        result.page_errors = sum(1 for hit in browsing.hits if hit.status >= 500)
        result.page_errors += len(browsing.errors)
        result.locked = sum(1 for hit in browsing.hits if hit.locked)
        result.locked += stack.log_text().count("database is locked")
        result.states = stack.query(STATES % batch_id)
        result.bulk_size = sum(result.states.values())
        result.applied, result.duplicates = stack.query(DUPLICATES)
        return result
    finally:
        stack.stop()


def _wait(
    predicate: Callable[[], bool], timeout: float, message: str, *, must: bool = True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    if must:
        raise RuntimeError(message)
