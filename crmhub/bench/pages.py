"""``bench --section pages``: server time and SQL queries of the console's busiest pages.

Builds an index of ``--contacts`` demo contacts over the four CRMs (people matched) and
``--option actions=N`` actions (default: a tenth of the contacts), signs in an operator
and requests each page through Django's full stack in this process (middleware, view,
template; no network): the contacts page with and without a query, the person page and
the dashboard. The query count of each page is measured first on a small index
(``SMALL`` contacts) and again on the full one: it must not grow with the data.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection as db
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crmhub.actions.models import Action
from crmhub.bench.base import BenchContext, Row
from crmhub.bench.index import RECORD_TYPES, bench_connections, index_fill
from crmhub.bench.measure import percentile
from crmhub.bench.search import queries_make
from crmhub.connections.models import Connection
from crmhub.contacts.models import Contact, Person, SyncRun
from crmhub.core import roles

OPERATIONS = {"allclients": "run_action_set", "apptivo": "update_customer",
              "collect": "run_plan", "crmcom": "communication_create"}  # fmt: skip
STATES = [Action.State.SUCCEEDED] * 85 + [Action.State.FAILED] * 8 + [
    Action.State.UNKNOWN] * 3 + [Action.State.QUEUED] * 4  # fmt: skip
SMALL = 1_000
REQUESTS = 100
QUERY_SAMPLES = 10
BATCH = 5_000
TARGET = "p95 <= 100 ms"


def actions_grow(connections: dict[str, Connection], *, count: int, user: User) -> None:
    """Add ``count`` actions over the last two weeks, a fifth of them on matched people."""
    rng = random.Random(11)
    shared = list(
        Contact.objects.filter(person__isnull=False)
        .order_by("person_id")
        .values_list("pk", "connection_id")[:2_000]
    )
    top = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    kinds = {c.pk: kind for kind, c in connections.items()}
    now = timezone.now()
    rows = []
    for number in range(count):
        if shared and number % 5 == 0:
            contact_id, connection_id = rng.choice(shared)
        else:
            contact_id = rng.randint(1, top)
            connection_id = None
        kind = kinds.get(connection_id or 0) or rng.choice(list(RECORD_TYPES))
        state = rng.choice(STATES)
        created = now - timedelta(seconds=rng.randint(0, 14 * 86_400))
        rows.append(Action(
            operation=OPERATIONS[kind], connection=connections[kind], contact_id=contact_id,
            state=state, params={"bench": number}, requested_by=user, created_at=created,
            updated_at=created, finished_at=None if state == "queued" else created,
        ))  # fmt: skip
        if len(rows) >= BATCH:
            _actions_write(rows)
            rows = []
    _actions_write(rows)
    for connection in connections.values():
        SyncRun.objects.create(connection=connection, mode="full", state="succeeded",
                               requested_by="bench", fetched=contacts_of(connection))  # fmt: skip


def _actions_write(rows: list[Action]) -> None:
    # Contacts were picked by id at random: keep only the ones of the right connection.
    valid = dict(Contact.objects.filter(pk__in=[r.contact_id for r in rows])
                 .values_list("pk", "connection_id"))  # fmt: skip
    for row in rows:
        if row.contact_id is None or valid.get(row.contact_id) != row.connection_id:
            row.contact_id = None
    Action.objects.bulk_create(rows, batch_size=1_000)


def actions_settle() -> float:
    """On PostgreSQL, vacuum and analyse the actions table; return the seconds it took (0.0
    on SQLite, which keeps no statistics unless asked).

    ``actions_grow`` inserts a hundred thousand actions in seconds, which no console does:
    its bulk acts add a few thousand at a time, and autovacuum (its naptime is a minute)
    vacuums and analyses the table after them. Timed right after the growth instead, the
    planner knew none of the new rows and the visibility map none of their pages: the
    dashboard's counts read all 100,100 actions (37 ms) where the settled table answers
    from its index (2.5 ms), and its p95 depended on whether autovacuum had come by yet.
    """
    if db.vendor != "postgresql":
        return 0.0
    started = time.monotonic()
    with db.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Action._meta.db_table}")
    return time.monotonic() - started


def contacts_of(connection: Connection) -> int:
    return Contact.objects.filter(connection=connection).count()


def _operator() -> User:
    user, _ = User.objects.get_or_create(username="bench-operator")
    user.groups.add(Group.objects.get(name=roles.OPERATOR))
    return user


def pages(rng: random.Random) -> dict[str, Callable[[], str]]:
    """Return, per page, a function giving the next URL to request."""
    queries = [query for _, query in queries_make()]
    # People with actions, those in the most CRMs first: a person page shows a panel per
    # record, so the widest people are its most expensive views, at every size alike.
    people = list(
        Person.objects.filter(contacts__actions__isnull=False)
        .annotate(records=Count("contacts", distinct=True))
        .order_by("-records", "pk")
        .values_list("pk", flat=True)[:200]
    ) or list(Person.objects.values_list("pk", flat=True)[:200])
    contacts = reverse("console:contact-list")
    return {
        "contacts page, no query": lambda: contacts,
        "contacts page, with a query": lambda: f"{contacts}?q={rng.choice(queries)}",
        "person page": lambda: reverse("console:person-detail", args=[rng.choice(people)]),
        "dashboard": lambda: reverse("console:dashboard"),
    }


def _queries(client: Client, url: str) -> int:
    cache.clear()
    with CaptureQueriesContext(db) as captured:
        response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return len(captured)


def _most_queries(client: Client, next_url: Callable[[], str]) -> int:
    """Return the most SQL queries of ``QUERY_SAMPLES`` views (queries differ in tiers)."""
    return max(_queries(client, next_url()) for _ in range(QUERY_SAMPLES))


def _timed(client: Client, next_url: Callable[[], str], *, cold_cache: bool) -> list[float]:
    times = []
    for _ in range(3):
        client.get(next_url())  # warm the template and query caches like a running server
    for _ in range(REQUESTS):
        url = next_url()
        if cold_cache:
            cache.clear()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return times


def section(ctx: BenchContext) -> list[Row]:
    """Return p50/p95 server time and the query count of each page, small beside full."""
    actions = int(str(ctx.options.get("actions") or ctx.contacts // 10))
    connections = bench_connections()
    user = _operator()
    client = Client(HTTP_HOST="localhost")  # an allowed host outside the test runner
    client.force_login(user)
    ctx.write(f"pages: small index ({SMALL} contacts) for the query-count baseline ...")
    index_fill(connections, contacts=SMALL)
    actions_grow(connections, count=SMALL // 10, user=user)
    rng = random.Random(5)
    small = {name: _most_queries(client, url) for name, url in pages(rng).items()}
    ctx.write(f"pages: growing the index to {ctx.contacts} contacts and {actions} actions ...")
    started = time.monotonic()
    index_fill(connections, contacts=ctx.contacts)
    actions_grow(connections, count=actions, user=user)
    total, total_actions = Contact.objects.count(), Action.objects.count()
    rows = [Row("pages", f"data built ({total} contacts, {total_actions} actions)",
                time.monotonic() - started, "s")]  # fmt: skip
    if settled := actions_settle():
        note = "(PostgreSQL; autovacuum's work within a minute)"
        rows.append(Row("pages", f"  the actions table vacuumed and analysed after it {note}",
                        settled, "s"))  # fmt: skip
    for name, next_url in pages(rng).items():
        ctx.write(f"pages: timing {REQUESTS} requests of the {name} ...")
        times = _timed(client, next_url, cold_cache=False)
        large = _most_queries(client, next_url)
        rows += [
            Row("pages", f"{name} p50", percentile(times, 0.5), "ms"),
            Row("pages", f"{name} p95", percentile(times, 0.95), "ms", target=TARGET),
            Row(
                "pages",
                f"{name} SQL queries (most of {QUERY_SAMPLES})",
                large,
                "queries",
                small[name],
                f"at {SMALL:,} contacts",
                target="no growth (ratio 1.0x)",
            ),
        ]
        if name == "dashboard":
            # Its contact counts and chart are kept 30-60 s; the first view after pays them.
            cold = _timed(client, next_url, cold_cache=True)
            rows.append(Row("pages", "dashboard p95, empty cache", percentile(cold, 0.95), "ms",
                            target=TARGET))  # fmt: skip
    return rows
