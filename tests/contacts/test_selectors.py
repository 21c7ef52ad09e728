"""Reads of the index besides the search: a selection's contacts, people, sync runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crmhub.contacts import selectors
from crmhub.contacts.models import Contact, Person, SyncRun

pytestmark = pytest.mark.django_db


def _contacts(connection, *remote_ids: str, person: Person | None = None) -> list[Contact]:  # type: ignore[no-untyped-def]
    return Contact.objects.bulk_create(
        Contact(connection=connection, remote_id=rid, full_name=rid, person=person)
        for rid in remote_ids
    )


def test_a_selection_counts_the_live_contacts_it_names(make_connection):
    """A person row names the records it showed: a record the person gained since is not
    selected."""
    allclients, apptivo = make_connection("allclients", name="AC"), make_connection("apptivo")
    ann = Person.objects.create(display_name="Ann")
    ann_ac, ann_ap = _contacts(allclients, "a1", person=ann) + _contacts(apptivo, "p1", person=ann)
    lone, gone, other = _contacts(allclients, "a2", "a3", "a4")
    _contacts(allclients, "a5", person=ann)  # joined after the row was shown
    Contact.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    picked = {"contact_ids": [ann_ac.pk, ann_ap.pk, lone.pk, gone.pk]}

    assert selectors.contact_counts_selected(**picked) == {allclients.pk: 2, apptivo.pk: 1}
    assert selectors.contact_ids_selected(connection=allclients, **picked) == [ann_ac.pk, lone.pk]
    assert selectors.contact_ids_selected(connection=apptivo, **picked) == [ann_ap.pk]
    assert other.pk not in selectors.contact_ids_selected(connection=allclients, **picked)


def test_live_contacts_of_a_connection_by_id_and_by_person(make_connection):
    allclients, apptivo = make_connection("allclients", name="AC"), make_connection("apptivo")
    ann = Person.objects.create(display_name="Ann")
    (ann_ac,) = _contacts(allclients, "a1", person=ann)
    _contacts(apptivo, "p1", person=ann)
    first, second = _contacts(allclients, "a2", "a3")

    found = selectors.contacts_live(
        connection=allclients, contact_ids=[second.pk, first.pk], person_ids=[ann.pk]
    )

    assert found == sorted([ann_ac, first, second], key=lambda contact: contact.pk)


def test_the_latest_run_of_each_connection_and_a_connection_s_history(make_connection):
    quiet, busy = make_connection("allclients", name="Quiet"), make_connection("apptivo")
    runs = [
        SyncRun.objects.create(connection=busy, mode="full", state="succeeded") for _ in range(3)
    ]
    SyncRun.objects.filter(pk=runs[0].pk).update(created_at=timezone.now() + timedelta(hours=1))

    assert selectors.sync_runs_latest(connection_ids=[quiet.pk, busy.pk]) == {busy.pk: runs[0]}
    assert selectors.sync_run_history(connection=busy, limit=2) == [runs[0], runs[2]]
    assert selectors.sync_run_history(connection=quiet) == []


def test_a_person_s_records_and_lookups_by_id(make_connection):
    allclients, apptivo = make_connection("allclients", name="AC"), make_connection("apptivo")
    ann = Person.objects.create(display_name="Ann")
    (ac,) = _contacts(allclients, "a1", person=ann)
    (ap,) = _contacts(apptivo, "p1", person=ann)
    Contact.objects.filter(pk=ac.pk).update(deleted_at=timezone.now())

    assert selectors.person_contacts(person=ann) == [ap, ac]  # deleted last
    assert selectors.person_detail(pk=ann.pk) == ann and selectors.person_detail(pk=0) is None
    assert selectors.contact_detail(pk=ap.pk) == ap and selectors.contact_detail(pk=0) is None
