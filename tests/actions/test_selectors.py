"""Reads of actions: the filtered, keyset-paged list; a batch's contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db
from django.db.models import Count
from django.utils import timezone

from crmhub.actions.models import Action, Batch
from crmhub.actions.selectors import (
    _not_bulk,
    action_page,
    actions_open,
    actions_recent,
    batch_contacts,
)
from crmhub.contacts.models import Contact
from tests.actions.conftest import make_contacts
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _action(connection, operation="run_action_set", *, at=None, **fields):  # type: ignore[no-untyped-def]
    moment = at or timezone.now()
    return Action.objects.create(
        operation=operation, connection=connection, created_at=moment, updated_at=moment, **fields
    )


def test_a_page_lists_newest_first_and_the_next_page_starts_after_it(connection):
    start = timezone.now() - timedelta(hours=1)
    same_moment = start + timedelta(minutes=30)
    made = [_action(connection, at=start + timedelta(minutes=n)) for n in range(5)]
    made += [_action(connection, at=same_moment) for _ in range(3)]  # ties: ordered by id

    first = action_page(limit=3)
    second = action_page(after=first.next_after, limit=3)
    third = action_page(after=second.next_after, limit=3)

    expected = sorted(made, key=lambda a: (a.created_at, a.pk), reverse=True)
    assert first.rows + second.rows + third.rows == expected
    assert first.next_after == (first.rows[-1].created_at, first.rows[-1].pk)
    assert third.next_after is None and len(third.rows) == 2


def test_each_filter_narrows_the_list(connection, admin_user):
    other = ConnectionFactory(kind="apptivo", name="Other")
    now = timezone.now()
    old = _action(connection, at=now - timedelta(days=3))
    failed = _action(connection, state=Action.State.FAILED, requested_by=admin_user)
    link = _action(connection, "add_contact_link")
    apptivo = _action(other, "customer_create")

    def ids(**filters):  # type: ignore[no-untyped-def]
        return {action.pk for action in action_page(**filters).rows}

    assert ids() == {old.pk, failed.pk, link.pk, apptivo.pk}
    assert ids(state=Action.State.FAILED) == {failed.pk}
    assert ids(kind="apptivo") == {apptivo.pk}
    assert ids(operation="add_contact_link") == {link.pk}
    assert ids(connection=other) == {apptivo.pk}
    assert ids(requested_by=admin_user) == {failed.pk}
    assert ids(created_to=now - timedelta(days=1)) == {old.pk}
    assert ids(created_from=now - timedelta(days=1), kind="allclients") == {failed.pk, link.pk}


def test_a_batch_takes_the_live_contacts_of_its_connection_only(connection):
    other = ConnectionFactory(kind="apptivo", name="Other")
    mine = make_contacts(connection, 4)
    theirs = make_contacts(other, 1, start=10)
    Contact.objects.filter(pk=mine[3].pk).update(deleted_at=timezone.now())

    picked = batch_contacts(
        connection=connection, contact_ids=[mine[2].pk, mine[3].pk, theirs[0].pk, mine[1].pk]
    )

    assert picked == [mine[1], mine[2]]


def test_the_latest_single_acts_leave_out_bulk_runs_and_reads(connection, admin_user):
    now = timezone.now()
    batch = Batch.objects.create(
        operation="run_action_set", connection=connection, size=3, created_by=admin_user
    )
    singles = [_action(connection, at=now - timedelta(minutes=n)) for n in range(3)]
    for n in range(3):  # newer than every single act
        _action(connection, at=now + timedelta(minutes=n), batch=batch)
    _action(connection, "get_contact_links", at=now + timedelta(hours=1), safe=True)

    assert actions_recent(limit=2) == singles[:2]
    assert actions_recent() == singles


@pytest.mark.skipif(db.vendor != "sqlite", reason="SQLite's plan")
def test_the_latest_single_acts_are_read_from_their_own_index(connection):
    query = _not_bulk(Action.objects.filter(safe=False)).order_by("-created_at", "-id")[:10]
    assert "action_single_recent" in query.explain()


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL's indexes")
@pytest.mark.django_db
def test_postgresql_has_no_single_acts_index_for_its_planner_to_misuse():
    # Its planner ANDed it into the attention queries and sorted every failed act.
    with db.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'actions_action'")
        names = {name for (name,) in cursor.fetchall()}
    assert "action_state_due" in names
    assert "action_single_recent" not in names


@pytest.mark.skipif(db.vendor != "postgresql", reason="PostgreSQL's indexes")
def test_postgresql_counts_the_open_acts_from_their_own_index(connection):
    # Only the acts that need someone are in it: a queued act (bulk runs insert thousands)
    # is not, and the dashboard's counts need nothing else.
    for state in (Action.State.QUEUED, Action.State.SUCCEEDED, Action.State.FAILED):
        _action(connection, state=state)
    with db.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'action_open'")
        (definition,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        query = actions_open().order_by().values_list("state").annotate(n=Count("id"))
        plan = query.explain()
    assert "(state, not_before, id)" in definition
    assert "checked_at IS NULL" in definition and "NOT safe" in definition
    assert "Index Only Scan using action_open" in plan
    assert "resend_of_id IS NOT NULL" in plan  # the resends looked for among resends only
    assert dict(query) == {"failed": 1}
