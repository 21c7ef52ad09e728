"""A full matching never holds the write lock long: marks first, reads outside a
transaction, people written a chunk a transaction; one that did not finish is owed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection as db
from django.db import connections, transaction

from crmhub.contacts import matching
from crmhub.contacts.matching import apply
from crmhub.contacts.matching import build as graph_build
from crmhub.contacts.models import Contact, Person, ReleasedKey
from tests.contacts.conftest import remote


def _pairs(crms, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` people, each in AllClients and Apptivo under one email."""
    crms.set("allclients", *(remote(n, f"A{n}", "Lee", email=f"p{n}@example.com")
                             for n in range(count)))  # fmt: skip
    crms.set("apptivo", *(remote(f"P{n}", f"A{n}", "Lee", email=f"P{n}@Example.com")
                          for n in range(count)))  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_full_matching_writes_its_people_a_chunk_a_transaction(crms, monkeypatch):
    _pairs(crms, 10)
    crms.sync()
    Contact.objects.update(person=None, matched_by="")
    Person.objects.all().delete()
    monkeypatch.setattr(apply, "CHUNK", 4)
    events: list[str] = []

    def recording(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if many and sql.startswith("UPDATE contacts_contact SET person_id"):
            events.append(f"move {len(params)}")
            transaction.on_commit(lambda: events.append("commit"))
        return execute(sql, params, many, context)

    with db.execute_wrapper(recording):
        result = matching.persons_match(full=True)

    assert result.full and result.moved == 20
    assert events == ["move 4", "commit"] * 5, "20 contacts moved, 4 a transaction"
    assert Person.objects.count() == 10
    assert not ReleasedKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_full_matching_that_did_not_finish_makes_the_next_one_full(crms, monkeypatch):
    _pairs(crms, 3)
    crms.sync()
    Contact.objects.update(person=None, matched_by="")
    Person.objects.all().delete()

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the worker died while writing")

    monkeypatch.setattr(matching, "graph_apply", crash)
    with pytest.raises(RuntimeError):
        matching.persons_match(full=True)
    assert ReleasedKey.objects.filter(type=matching.FULL_OWED).count() == 1
    monkeypatch.undo()

    result = matching.persons_match()  # nothing marked: still owed a full one
    assert result.full
    assert Person.objects.count() == 3
    assert not ReleasedKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_contact_written_during_a_full_matching_keeps_its_mark(crms, monkeypatch):
    _pairs(crms, 3)
    crms.sync()
    read = graph_build.graph_full

    def read_while_a_sync_writes(constraints):  # type: ignore[no-untyped-def]
        graph = read(constraints)
        # A sync rewrites a contact after the full matching read the index.
        Contact.objects.filter(remote_id="P1").update(last_name="Changed", needs_match=True)
        return graph

    monkeypatch.setattr(matching, "graph_full", read_while_a_sync_writes)
    assert matching.persons_match(full=True).full
    assert list(Contact.objects.filter(needs_match=True).values_list("remote_id", flat=True)) == [
        "P1"
    ]


@pytest.mark.django_db(transaction=True)
def test_a_correction_does_not_wait_long_for_a_running_matching(crms, monkeypatch):
    from crmhub.contacts.matching.lock import matching_lock

    _pairs(crms, 2)
    crms.sync()
    monkeypatch.setattr(matching, "DEFERRABLE_WAIT_SECONDS", 0.2)
    contact_ids = list(Contact.objects.values_list("pk", flat=True))
    held, done = threading.Event(), threading.Event()

    def full_matching_elsewhere() -> None:  # another process's session, in a thread
        try:
            with matching_lock() as taken:
                assert taken
                held.set()
                done.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=full_matching_elsewhere)
    other.start()
    assert held.wait(10)
    try:
        deferred = matching.persons_match(contact_ids=contact_ids, allow_full=False)
    finally:
        done.set()
        other.join(10)
    assert deferred.deferred
    assert not matching.persons_match(contact_ids=contact_ids, allow_full=False).deferred
