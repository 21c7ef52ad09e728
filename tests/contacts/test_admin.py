"""Admin: the index is read-only; contacts found by email key; sync history; re-run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.contacts.models import Contact, SyncRun
from crmhub.contacts.sync import runs
from tests.contacts.conftest import remote
from tests.contacts.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(connection, fake_crms):  # type: ignore[no-untyped-def]
    fake_crms["allclients"].contacts = [
        remote(1, "Ann", "Lee", email="Ann.Lee@Example.com"),
        remote(2, "Bob", "Ray", email="bob@example.com"),
    ]
    return sync(connection)


def test_contacts_are_found_by_email_key_and_cannot_be_changed(admin_client, synced):
    url = reverse("admin:contacts_contact_changelist")
    response = admin_client.get(url, {"q": "  ANN.lee@example.COM "})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [Contact.objects.get(remote_id="1")]

    contact = Contact.objects.get(remote_id="2")
    change = admin_client.post(
        reverse("admin:contacts_contact_change", args=[contact.pk]), {"first_name": "X"}
    )
    assert change.status_code == 403
    assert admin_client.get(reverse("admin:contacts_contact_add")).status_code == 403


def test_sync_history_shows_counts_and_errors(admin_client, synced):
    SyncRun.objects.create(
        connection=synced.connection, mode="full", state="failed", error="Authentication failed"
    )
    response = admin_client.get(reverse("admin:contacts_syncrun_changelist"))
    assert response.status_code == 200
    assert b"Authentication failed" in response.content
    detail = admin_client.get(reverse("admin:contacts_syncrun_change", args=[synced.pk]))
    assert detail.status_code == 200


def _rerun(admin_client, run):  # type: ignore[no-untyped-def]
    return admin_client.post(
        reverse("admin:contacts_syncrun_changelist"),
        {"action": "rerun_allowing_deletions", "_selected_action": [run.pk]},
        follow=True,
    )


def test_a_flagged_run_can_be_rerun_with_its_deletions_confirmed(admin_client, synced, monkeypatch):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    flagged = SyncRun.objects.create(
        connection=synced.connection, mode="full", state="flagged", missing=2
    )
    response = _rerun(admin_client, flagged)
    assert response.status_code == 200
    queued = SyncRun.objects.get(state="queued")
    assert queued.allow_mass_deletion and queued.mode == "full"
    assert queued.confirms == flagged
    assert "queued: it applies at most the 2 deletions run" in response.content.decode()


def test_confirming_while_a_sync_is_active_says_so_and_queues_nothing(
    admin_client, synced, monkeypatch
):
    monkeypatch.setattr(runs, "run_publish", lambda run_id: None)
    flagged = SyncRun.objects.create(connection=synced.connection, mode="full", state="flagged")
    active = SyncRun.objects.create(connection=synced.connection, mode="full", state="running")
    page = _rerun(admin_client, flagged).content.decode()
    assert f"already running (run {active.pk}): nothing was queued or confirmed" in page
    assert "queued: it applies" not in page
    assert not SyncRun.objects.filter(confirms=flagged).exists()
    assert SyncRun.objects.filter(state__in=["queued", "running"]).count() == 1


def test_person_admin_lists_its_contacts(admin_client, make_connection, fake_crms):
    other = make_connection("apptivo", name="ap")
    fake_crms["apptivo"].contacts = [remote(9, "Ann", "Lee", email="ann.lee@example.com")]
    fake_crms["allclients"].contacts = [remote(1, "Ann", "Lee", email="ann.lee@example.com")]
    sync(make_connection("allclients", name="ac"))
    sync(other)
    person = Contact.objects.get(remote_id="9").person
    response = admin_client.get(reverse("admin:contacts_person_change", args=[person.pk]))
    assert response.status_code == 200
    assert b"email:ann.lee@example.com" in response.content
