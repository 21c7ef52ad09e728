"""Load with faults: the run command's stack under 20 users, a bulk act, a sync and kill -9s.

``load_run`` starts the stack (``stack.Stack``: the console's web processes, the sandbox
CRMs' own, workers and beat as ``scripts/run`` and the Procfile do) on its own data, seeds
the sandbox CRMs with ``people`` each and syncs them into the index. An index of
``contacts`` in all gets the rest written straight into it for archive connections no sync
touches during the run (``archive``), before the stack starts. Then, for ``duration`` seconds:

* ``users`` staff browse and search the console (``users.Users``) over the whole index,
  timed client-side;
* one of them, through the console, starts a RunActionSet over every contact of the
  AllClients sandbox connection (a bulk act of ``people`` actions) and full syncs of
  AllClients and CRM.COM;
* a worker is ``kill -9``-ed every ``kill_every`` seconds (taking turns when there are
  several) and started again.

The users stop; the run waits up to ``settle`` seconds for every action and sync to end,
then reads what happened from the databases and the logs: pages and errors seen by the
users, "database is locked" anywhere (user pages, process logs, errors stored on actions,
attempts and syncs), the actions by final state and whether each state is truthful beside
the sandbox ledger (``sandbox.models.Call``: one row per request received, ``applied`` and
``effect`` for each change), duplicates (an effect applied twice), lost actions (not final
after the grace period) and the syncs' final state.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from crmhub.bench.load.archive import ARCHIVE, SIZE
from crmhub.bench.load.cpu import machine_cpu_seconds, own_cpu_seconds
from crmhub.bench.load.stack import (
    Stack,
    postgres_database,
    redis_claimed,
    server_settings_of,
)
from crmhub.bench.load.users import LOCKED, PAGE_TIMEOUT, Users, classify, login
from crmhub.bench.measure import percentile
from crmhub.sandbox.registry import KINDS

FINAL = ("succeeded", "failed", "unknown", "cancelled")
SYNC_FINAL = ("succeeded", "failed", "flagged", "skipped")
USERNAME = "load"
#: AllClients sandbox action set 103, with no Email action; by name, as the connection's list of
#: action sets (kept by an admin: AllClients' API cannot list them) names it.
ACTION_SET_NAME = "New Client Onboarding"
#: The demo command's connections to the sandbox CRMs are named "Sandbox <kind>".
SANDBOX = "Sandbox "
BATCH_URL = re.compile(r"/bulk/(\d+)/")
TARGETS = re.compile(r'name="targets" value="(\w+)"')

SETUP = """
import json
from django.contrib.auth.models import Group, User
from crmhub.connections.models import Connection
from crmhub.contacts.services import sync_request
from crmhub.core import roles
user, _ = User.objects.get_or_create(username=%(username)r)
user.set_password(%(password)r)
user.save()
user.groups.add(*Group.objects.filter(name__in=[roles.OPERATOR, roles.ADMIN]))
sandboxes = Connection.objects.filter(name__startswith=%(sandbox)r)
if %(rate_limit)r is not None:
    sandboxes.filter(kind="allclients").update(rate_limit=%(rate_limit)r)
ids = dict(sandboxes.values_list("kind", "pk"))
for connection in sandboxes:
    sync_request(connection=connection, mode="full", requested_by="load setup")
print(json.dumps(ids))
"""
SYNCED = """
import json
from crmhub.contacts.models import SyncRun
rows = SyncRun.objects.filter(connection__name__startswith=%(sandbox)r).values_list(
    "connection__kind", "state"
)
done = {kind for kind, state in rows if state == "succeeded"}
failed = sorted({kind for kind, state in rows if state in ("failed", "flagged")})
print(json.dumps([sorted(done), failed]))
"""
STATUS = """
import json
from django.db.models import Count
from crmhub.actions.models import Action
from crmhub.contacts.models import SyncRun
actions = Action.objects.filter(batch_id=%(batch)d).values("state").annotate(n=Count("id"))
syncs = SyncRun.objects.filter(requested_by=%(username)r).values_list("state", flat=True)
print(json.dumps([{row["state"]: row["n"] for row in actions}, list(syncs)]))
"""
FIGURES = """
import json
from collections import Counter
from crmhub.actions.models import Action, Attempt
from crmhub.contacts.models import SyncRun
from crmhub.sandbox.models import Call
LOCKED = %(locked)r
applied = Counter(
    effect.split(":")[1]
    for effect in Call.objects.filter(
        kind="allclients", applied=True, effect__startswith="runactionset:"
    ).values_list("effect", flat=True)
)
actions = [
    [pk, state, str(params.get("contact_remote_id")), attempts, error[:160]]
    for pk, state, params, attempts, error in Action.objects.filter(batch_id=%(batch)d)
    .values_list("pk", "state", "params", "attempts", "error")
]
syncs = [
    [row[0], row[1], row[2], row[3], row[4], row[5], row[6][:300]]
    for row in SyncRun.objects.order_by("pk").values_list(
        "connection__kind", "state", "mode", "requested_by", "attempts", "fetched", "error"
    )
]
lost_attempts = Attempt.objects.filter(action__batch_id=%(batch)d, outcome="lost").count()
locked = {
    "action errors": Action.objects.filter(error__icontains=LOCKED).count(),
    "attempt errors": Attempt.objects.filter(error__icontains=LOCKED).count(),
    "sync errors": SyncRun.objects.filter(error__icontains=LOCKED).count(),
}
print(json.dumps({"applied": dict(applied), "actions": actions, "syncs": syncs,
                  "locked": locked, "lost_attempts": lost_attempts}))
"""


@dataclass
class LoadResult:
    stack: str
    workers: int
    users: int
    people: int
    #: Processes serving the console (the sandbox CRMs have one of their own).
    web_processes: int = 1
    #: The PostgreSQL server's settings the figures depend on (``stack.server_settings``).
    server: str = ""
    #: Live contacts in the index once the first syncs ended, of them the archive's, and
    #: the people they are matched into; seconds taken to write the archive.
    index_contacts: int = 0
    archive_contacts: int = 0
    index_people: int = 0
    archive_seconds: float = 0.0
    seconds: float = 0.0
    prepare_seconds: float = 0.0
    drain_seconds: float = 0.0
    kills: int = 0
    #: Actions of the bulk act queued or sending when each kill -9 came.
    open_at_kills: list[int] = field(default_factory=list)
    #: Attempts whose worker was lost (the sweeper found the lease expired).
    lost_attempts: int = 0
    #: Tracebacks per process log (web, worker0, beat...).
    tracebacks: dict[str, int] = field(default_factory=dict)
    #: Processes of the stack that ended on their own during the run: exit code.
    exited: dict[str, int] = field(default_factory=dict)
    #: The exceptions of those tracebacks ("worker0: ValueError: ..."), by count.
    exceptions: dict[str, int] = field(default_factory=dict)
    #: Pages served to users (client-side time, ms) and every request by page.
    page_ms: list[float] = field(default_factory=list)
    search_ms: list[float] = field(default_factory=list)
    by_page_ms: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    pages: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    batch_id: int = 0
    bulk_submit_ms: float = 0.0
    #: "database is locked": pages seen by users, lines per process log, stored errors.
    locked_users: int = 0
    locked_logs: dict[str, int] = field(default_factory=dict)
    locked_stored: dict[str, int] = field(default_factory=dict)
    #: The bulk act: actions by state, against the sandbox ledger.
    bulk_size: int = 0
    states: dict[str, int] = field(default_factory=dict)
    applied: int = 0
    duplicates: int = 0
    untruthful: list[str] = field(default_factory=list)
    unknown_applied: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    syncs: list[dict[str, Any]] = field(default_factory=list)
    #: CPU seconds during the load, by process: the stack's (web, worker0, beat...; each
    #: with its children), the bench's own (``users``: the users' threads) and the
    #: ``manage.py`` queries it ran (``queries``). The machine's 1-minute load average at the
    #: start and the end of the load (other work on the machine shows there, not here).
    cpu: dict[str, float] = field(default_factory=dict)
    #: The busy CPU seconds of the whole machine during the load (every process: the
    #: database server's and any other work's too).
    machine_cpu: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)

    @property
    def lost(self) -> int:
        return sum(n for state, n in self.states.items() if state not in FINAL)

    @property
    def locked_tasks(self) -> int:
        worker_lines = sum(n for name, n in self.locked_logs.items() if name != "web")
        return worker_lines + sum(self.locked_stored.values())

    @property
    def user_errors(self) -> int:
        return sum(self.errors.values())

    @property
    def syncs_not_final(self) -> int:
        return sum(1 for sync in self.syncs if sync["state"] not in SYNC_FINAL)

    def percentile(self, share: float, values: list[float] | None = None) -> float:
        """Return the ``share`` percentile (nearest rank) of page times (or ``values``)."""
        return percentile(self.page_ms if values is None else values, share)

    def cpu_share(self, seconds: float) -> float:
        """Return ``seconds`` of CPU as a percentage of one core over the load."""
        return 100 * seconds / self.seconds if self.seconds else 0.0

    @property
    def cpu_elsewhere(self) -> float:
        """Return the machine's busy CPU seconds during the load that no counted process
        spent: the database server's (PostgreSQL's processes), the kernel's, other work's."""
        return max(0.0, self.machine_cpu - sum(self.cpu.values()))

    def cpu_summary(self) -> str:
        parts = [
            f"{name} {spent:.0f} s ({self.cpu_share(spent):.0f}%)"
            for name, spent in self.cpu.items()
        ]
        total = sum(self.cpu.values())
        return (
            f"  CPU during the load (% of one core): {', '.join(parts)}; total {total:.0f} s "
            f"({self.cpu_share(total):.0f}% of one core, {os.cpu_count()} cores); the machine "
            f"{self.machine_cpu:.0f} s ({self.cpu_share(self.machine_cpu):.0f}%), of which "
            f"elsewhere {self.cpu_elsewhere:.0f} s ({self.cpu_share(self.cpu_elsewhere):.0f}%"
            "; the database server's, other work's); load "
            f"average {self.load_average[0]:.1f} at the start, {self.load_average[1]:.1f} "
            "at the end"
        )

    def summary(self) -> str:
        states = ", ".join(f"{state} {n}" for state, n in sorted(self.states.items()))
        syncs = ", ".join(f"{s['kind']} {s['mode']} {s['state']}" for s in self.syncs)
        return "\n".join(
            [
                f"load [{self.stack}, {self.web_processes} web process(es), "
                f"{self.workers} worker(s), {self.users} users, "
                f"{self.seconds:.0f} s + {self.drain_seconds:.0f} s drain]",
                f"  index: {self.index_contacts} contacts ({self.archive_contacts} archived, "
                f"written in {self.archive_seconds:.0f} s), {self.index_people} people",
                f"  requests {self.requests} ({dict(sorted(self.pages.items()))}), "
                f"p50 {self.percentile(0.5):.0f} ms, p95 {self.percentile(0.95):.0f} ms, "
                f"search p95 {self.percentile(0.95, self.search_ms):.0f} ms, "
                f"bulk submit {self.bulk_submit_ms:.0f} ms",
                "  p95 by page: "
                + ", ".join(
                    f"{page} {self.percentile(0.95, times):.0f} ms"
                    for page, times in sorted(self.by_page_ms.items())
                ),
                self.cpu_summary(),
                f"  user errors {dict(self.errors) or 0}",
                f"  'database is locked': users {self.locked_users}, logs "
                f"{self.locked_logs}, stored {self.locked_stored}",
                f"  worker kill -9: {self.kills} (bulk actions open then: {self.open_at_kills}), "
                f"attempts lost {self.lost_attempts}, tracebacks in logs {self.tracebacks or 0}, "
                f"processes that died on their own {self.exited or 0}",
                f"  bulk act of {self.bulk_size}: {states}; applied {self.applied}, "
                f"duplicates {self.duplicates}, untruthful {len(self.untruthful)}, "
                f"unknown but applied {self.unknown_applied}, lost {self.lost}",
                f"  failures {self.failures or 0}",
                f"  syncs during load: {syncs}",
                *(
                    f"  {n} x {exception}"
                    for exception, n in Counter(self.exceptions).most_common(5)
                ),
            ]
        )


@contextlib.contextmanager
def _backing(
    stack_name: str, database_url: str | None, broker_url: str | None
) -> Iterator[tuple[str | None, str | None]]:
    """Yield the database and broker URLs of the stack (a fresh PostgreSQL database and an
    emptied Redis database for ``postgres``; the stack's own files for ``embedded``)."""
    if stack_name == "embedded":
        yield None, None
        return
    if not database_url:
        raise ValueError("the postgres stack needs the URL of a PostgreSQL server")
    name = f"crmhub_load_{secrets.token_hex(3)}"
    with contextlib.ExitStack() as stack:
        if broker_url:
            stack.enter_context(redis_claimed(broker_url))
        url = stack.enter_context(postgres_database(database_url, name))
        yield url, broker_url


def load_run(
    *,
    workdir: Path,
    stack: str = "embedded",
    duration: float = 120,
    users: int = 20,
    people: int = 2000,
    contacts: int = 0,
    workers: int = 1,
    web_processes: int = 2,
    kill_every: float = 60,
    rate_limit: float | None = None,
    database_url: str | None = None,
    broker_url: str | None = None,
    settle: float = 300,
    env: dict[str, str] | None = None,
    write: Callable[[str], None] = print,
) -> LoadResult:
    """Run the stack under load with ``kill -9``s; return what happened.

    ``stack`` is ``embedded`` (SQLite and the filesystem broker in ``workdir``) or
    ``postgres`` (a database created on ``database_url``'s server for the run and dropped
    after it, and the Redis database ``broker_url``, emptied before and after; without
    ``broker_url``, the embedded broker). ``rate_limit`` replaces the demo connections'
    20 requests/s for AllClients; ``web_processes`` serve the console (the sandbox CRMs
    run in one more); ``env`` is added to the stack's environment. ``contacts``
    is the size of the index: beyond the sandbox CRMs' ``people`` each, the rest is written
    for archive connections (none when ``contacts`` is not larger).
    """
    label = "sqlite + filesystem broker"
    if stack == "postgres":
        label = "postgresql + " + ("redis" if broker_url else "filesystem broker")
    result = LoadResult(
        stack=label, workers=workers, users=users, people=people, web_processes=web_processes
    )
    if stack == "postgres" and database_url:
        result.server = server_settings_of(database_url)
    with _backing(stack, database_url, broker_url) as (db_url, broker):
        the_stack = Stack(
            workdir,
            workers=workers,
            web_processes=web_processes,
            database_url=db_url,
            broker_url=broker,
            env=env,
        )
        write(f"load: {label} stack in {workdir}: preparing {people} people per sandbox CRM")
        started = time.monotonic()
        the_stack.manage("migrate", "--noinput")
        the_stack.manage("migrate", "--database", "sandbox", "--noinput")
        the_stack.manage("demo", "--people", str(people))
        archive = max(0, contacts - len(KINDS) * people)
        if archive:
            write(f"load: writing {archive} contacts for the archive connections")
            timeout = max(900.0, archive / 200)
            filled = the_stack.query(ARCHIVE % {"contacts": archive}, timeout=timeout)
            result.archive_seconds = filled["seconds"]
        password = secrets.token_urlsafe(16)
        try:
            the_stack.start()
            connections = the_stack.query(
                SETUP
                % {
                    "username": USERNAME,
                    "password": password,
                    "rate_limit": rate_limit,
                    "sandbox": SANDBOX,
                }
            )
            _first_sync(the_stack, set(connections), timeout=max(300.0, people / 10))
            size = the_stack.query(SIZE)
            result.index_contacts, result.archive_contacts = size["contacts"], size["archive"]
            result.index_people = size["people"]
            result.prepare_seconds = time.monotonic() - started
            _load(the_stack, result, connections, password, duration, kill_every, write)
            drain = time.monotonic()
            batch = result.batch_id
            write(f"load: waiting up to {settle:.0f} s for the actions and syncs to end")
            _wait(lambda: _settled(the_stack, batch), settle)
            result.drain_seconds = time.monotonic() - drain
            _figures(the_stack, result, batch)
            result.exited = the_stack.exited()
        except BaseException:
            for name, tail in the_stack.log_tails().items():
                write(f"--- {name} log (end) ---\n{tail}")
            raise
        finally:
            the_stack.stop()
        result.locked_logs = {name: n for name, n in the_stack.log_lines(LOCKED).items() if n}
        result.tracebacks = {name: n for name, n in the_stack.log_lines("Traceback").items() if n}
        result.exceptions = the_stack.exceptions()
        write(result.summary())
    return result


def _first_sync(stack: Stack, kinds: set[str], *, timeout: float) -> None:
    def synced() -> bool:
        done, failed = stack.query(SYNCED % {"sandbox": SANDBOX})
        if failed:
            raise RuntimeError(f"the first sync failed for {failed}; see {stack.logs}")
        return set(done) >= kinds

    if not _wait(synced, timeout):
        raise RuntimeError(f"the first sync did not finish within {timeout:.0f} s")


def _load(
    stack: Stack,
    result: LoadResult,
    connections: dict[str, int],
    password: str,
    duration: float,
    kill_every: float,
    write: Callable[[str], None],
) -> None:
    browsing = Users(stack.url, USERNAME, password, result.users)
    browsing.start()
    write(
        f"load: {result.users} users browsing; a bulk act over the AllClients sandbox and "
        f"full syncs; kill -9 every {kill_every:.0f} s; for {duration:.0f} s"
    )
    started = time.monotonic()
    cpu, own, load_start = stack.cpu_seconds(), own_cpu_seconds(), os.getloadavg()[0]
    machine = machine_cpu_seconds()
    try:
        operator = login(stack.url, USERNAME, password)
        # The bulk act is confirmed while the users browse, not while they sign in: 20
        # sign-ins in 3 s are ~5 s of CPU of password hashing (PBKDF2, 1,000,000 rounds
        # each) on the same 2 cores, which the confirmation would queue behind.
        if not browsing.wait_arrived(timeout=60):
            write("load: not every user had signed in after 60 s; the bulk act starts anyway")
        batch, result.bulk_submit_ms = _bulk_act(stack.url, operator, connections["allclients"])
        result.batch_id = batch
        browsing.watch.append(f"/bulk/{batch}/")
        for kind in ("allclients", "crmcom"):
            _sync(stack.url, operator, connections[kind])
        next_kill = started + min(kill_every, duration) / 2
        while time.monotonic() - started < duration:
            if time.monotonic() < next_kill:
                time.sleep(0.25)
            else:
                victim = len(stack.kills) % stack.workers
                states, _ = stack.query(STATUS % {"batch": batch, "username": USERNAME})
                result.open_at_kills.append(
                    sum(n for state, n in states.items() if state not in FINAL)
                )
                write(
                    f"load: kill -9 worker{victim} at {time.monotonic() - started:.0f} s "
                    f"({result.open_at_kills[-1]} actions of the bulk act open)"
                )
                stack.kill_worker(victim)
                next_kill += kill_every
    finally:
        browsing.stop()
    result.seconds = time.monotonic() - started
    spent = stack.cpu_seconds()
    result.cpu = {name: spent[name] - cpu.get(name, 0.0) for name in spent if name != "queries"}
    result.cpu["users"] = own_cpu_seconds() - own
    result.cpu["queries"] = spent["queries"] - cpu["queries"]
    result.machine_cpu = machine_cpu_seconds() - machine
    result.load_average = (load_start, os.getloadavg()[0])
    result.kills = len(stack.kills)
    served = browsing.served()
    result.requests = len(browsing.hits)
    result.pages = dict(browsing.by_page())
    result.page_ms = [hit.ms for hit in served]
    result.search_ms = [hit.ms for hit in served if hit.page == "search"]
    for hit in served:
        result.by_page_ms.setdefault(hit.page, []).append(hit.ms)
    result.errors = dict(browsing.errors())
    result.locked_users = result.errors.get("database is locked", 0)


def _csrf_post(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    token = session.cookies.get("csrftoken", "")
    return session.post(
        url,
        data={**data, "csrfmiddlewaretoken": token},
        headers={"Referer": url},
        timeout=PAGE_TIMEOUT * 5,
    )


def _bulk_act(base: str, session: requests.Session, connection_id: int) -> tuple[int, float]:
    """Run an action set on every contact of the AllClients sandbox connection through the
    bulk page; return the batch id and how long the confirmation took (ms)."""
    # The sandbox connection's contacts, not every AllClients one (the archive's too).
    selection = {"all": "1", "q": "", "connection": str(connection_id)}
    act = f"{connection_id}:run_action_set"
    page = session.get(f"{base}/bulk/", params={**selection, "act": act}, timeout=PAGE_TIMEOUT)
    page.raise_for_status()
    listed = TARGETS.search(page.text)  # the confirm runs on what the preview listed
    started = time.monotonic()
    answer = _csrf_post(
        session,
        f"{base}/bulk/",
        {**selection, "act": act, "action_set_name": ACTION_SET_NAME,
         "targets": listed.group(1) if listed else ""},
    )  # fmt: skip
    elapsed = (time.monotonic() - started) * 1000
    found = BATCH_URL.search(answer.url)
    if classify(answer) or found is None:
        raise RuntimeError(f"the bulk act was not accepted ({answer.status_code} {answer.url})")
    return int(found.group(1)), elapsed


def _sync(base: str, session: requests.Session, connection_id: int) -> None:
    answer = _csrf_post(session, f"{base}/connections/{connection_id}/sync/", {"mode": "full"})
    if classify(answer):
        raise RuntimeError(f"the sync was not accepted ({answer.status_code} {answer.url})")


def _settled(stack: Stack, batch: int) -> bool:
    states, syncs = stack.query(STATUS % {"batch": batch, "username": USERNAME})
    return bool(states) and not set(states) - set(FINAL) and not set(syncs) - set(SYNC_FINAL)


def _figures(stack: Stack, result: LoadResult, batch: int) -> None:
    data = stack.query(FIGURES % {"batch": batch, "locked": LOCKED})
    applied: dict[str, int] = data["applied"]
    states: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    in_batch = set()
    for pk, state, remote_id, attempts, error in data["actions"]:
        states[state] += 1
        in_batch.add(remote_id)
        times = applied.get(remote_id, 0)
        if state == "failed":
            failures[error[:80] or "(no error text)"] += 1
        if state == "unknown" and times:
            result.unknown_applied += 1
        if state == "succeeded" and times != 1:
            result.untruthful.append(f"action {pk} succeeded, applied {times}x ({attempts} tries)")
        elif state in ("failed", "cancelled") and times:
            result.untruthful.append(f"action {pk} {state}, yet applied {times}x")
        elif state == "unknown" and times > 1:
            result.untruthful.append(f"action {pk} unknown, applied {times}x")
    stray = sorted(set(applied) - in_batch)
    result.untruthful += [f"contact {remote_id} applied outside the batch" for remote_id in stray]
    result.bulk_size = sum(states.values())
    result.states = dict(states)
    result.failures = dict(failures.most_common(5))
    result.applied = sum(applied.values())
    result.duplicates = sum(n - 1 for n in applied.values() if n > 1)
    result.locked_stored = {name: n for name, n in data["locked"].items() if n}
    result.lost_attempts = data["lost_attempts"]
    result.syncs = [
        {"kind": kind, "state": state, "mode": mode, "attempts": attempts,
         "fetched": fetched, "error": error}
        for kind, state, mode, requested, attempts, fetched, error in data["syncs"]
        if requested == USERNAME
    ]  # fmt: skip


def _wait(predicate: Callable[[], bool], timeout: float, interval: float = 3) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
