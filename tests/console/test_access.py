"""Who may do what in the console: viewers browse, operators act, admins sync and test."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crmhub.actions.models import Action
from crmhub.contacts.models import SyncRun
from tests.console.conftest import make_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def act_urls(ann, connections, operator):  # type: ignore[no-untyped-def]
    """Every URL that asks for a remote side effect (GET shows its form, POST queues it)."""
    failed = make_action(
        connections["allclients"],
        "run_action_set",
        contact=ann["allclients"],
        state=Action.State.FAILED,
        user=operator,
    )
    return [
        reverse("console:contact-act", args=[ann["allclients"].pk, "run_action_set"]),
        reverse("console:contact-act", args=[ann["apptivo"].pk, "delete_customer"]),
        reverse("console:connection-act", args=[connections["apptivo"].pk, "create_customer"]),
        reverse("console:connection-act", args=[connections["crmcom"].pk, "queue_reject"]),
        reverse("console:bulk") + f"?pick=p{ann['allclients'].person_id}",
        reverse("console:action-resend", args=[failed.pk]),
        reverse("console:action-cancel", args=[failed.pk]),
        reverse("console:action-answer", args=[failed.pk]),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(client, act_urls):
    for url in [reverse("console:dashboard"), reverse("console:contact-list"), *act_urls]:
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/login/"), url


def test_viewers_get_403_on_every_act_url(client, viewer, act_urls):
    client.force_login(viewer)
    for url in act_urls:
        assert client.post(url, {"action_set_name": "x"}).status_code == 403, url
        if "resend" not in url and "cancel" not in url and "answer" not in url:
            assert client.get(url).status_code == 403, url
    assert Action.objects.count() == 1  # only the fixture's


def test_viewers_see_no_act_buttons(client, viewer, ann):
    client.force_login(viewer)
    body = client.get(reverse("console:person-detail", args=[ann["allclients"].person_id]))
    html = body.content.decode()
    assert body.status_code == 200
    assert "/act/" not in html and "Run action set" not in html and "Delete customer" not in html
    contacts = client.get(reverse("console:contact-list") + "?q=ann").content.decode()
    assert "Act on the selected people" not in contacts and 'name="pick"' not in contacts
    assert "New Apptivo customer" not in contacts


def test_operators_see_act_buttons_and_open_act_forms(client, operator, ann):
    client.force_login(operator)
    html = client.get(
        reverse("console:person-detail", args=[ann["allclients"].person_id])
    ).content.decode()
    for label in (
        "Run action set",
        "Add link",
        "Edit customer",
        "Delete customer",
        "Run plan",
        "Compose communication",
    ):
        assert label in html, label
    assert 'data-confirm="Delete this customer in Apptivo?' in html
    url = reverse("console:contact-act", args=[ann["allclients"].pk, "run_action_set"])
    assert client.get(url).status_code == 200


def test_viewers_can_read_regions_but_not_refresh_them(client, viewer, ann):
    client.force_login(viewer)
    url = reverse("console:contact-read", args=[ann["crmcom"].pk, "communications_list"])
    assert client.get(url, HTTP_HX_REQUEST="true").status_code in (200, 286)
    assert client.post(url, HTTP_HX_REQUEST="true").status_code == 403
    assert not Action.objects.exists()


@pytest.mark.parametrize("name", ["connection-sync", "connection-check"])
def test_only_admins_sync_and_test_connections(client, viewer, operator, connections, name):
    url = reverse(f"console:{name}", args=[connections["allclients"].pk])
    for user in (viewer, operator):
        client.force_login(user)
        assert client.post(url).status_code == 403
    assert not SyncRun.objects.exists()


def test_an_admin_starts_a_sync_and_a_check(
    client, admin_user, connections, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    connection = connections["allclients"]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("console:connection-sync", args=[connection.pk]),
            {"mode": "full"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    run = SyncRun.objects.get(connection=connection)
    assert (run.mode, run.requested_by) == ("full", "connadmin")
    assert callbacks  # the task is published once the run row is committed
    html = client.get(reverse("console:connection-detail", args=[connection.pk])).content
    assert b"Sync now" in html and b"Test connection" in html
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("console:connection-check", args=[connection.pk]))
    assert response.status_code == 302 and len(callbacks) == 1


def test_operators_see_connections_read_only(client, operator, connections):
    client.force_login(operator)
    html = client.get(
        reverse("console:connection-detail", args=[connections["allclients"].pk])
    ).content.decode()
    assert "Sync now" not in html and "Test connection" not in html
    assert "Not throttled" in html
