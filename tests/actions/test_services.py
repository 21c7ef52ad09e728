from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crmhub.actions import services
from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Batch
from crmhub.actions.selectors import targets_digest
from crmhub.actions.services import (
    ActionStateError,
    TargetsChanged,
    action_answer,
    action_cancel,
    action_enqueue,
    action_resend,
    batch_cancel,
    batch_enqueue,
)
from crmhub.connections.models import Connection
from crmhub.connectors import registry
from crmhub.connectors.errors import InvalidParams
from tests.actions.conftest import make_contacts
from tests.fakes import FakeConnector

pytestmark = pytest.mark.django_db


def enqueue(connection, contact, user=None, **kwargs):  # type: ignore[no-untyped-def]
    return action_enqueue(
        operation=kwargs.pop("operation", "touch"),
        connection=connection,
        contact=contact,
        params=kwargs.pop("params", {"note": "hello"}),
        user=user,
        **kwargs,
    )


def checked_by(fake_crm, check) -> type[FakeConnector]:  # type: ignore[no-untyped-def]
    """Serve the fake's kind with ``touch`` declared with ``check`` as its one checker."""
    touch = replace(fake_crm.operations["touch"], check=check)
    strict = type(
        "StrictFake", (fake_crm,), {"operations": {**fake_crm.operations, "touch": touch}}
    )
    registry.register(fake_crm.kind, strict)
    return strict


# -- action_enqueue --------------------------------------------------------------------------
def test_enqueue_writes_the_row_and_publishes_only_on_commit(
    connection, contact, operator, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        action = enqueue(connection, contact, operator)
        assert published == [], "nothing is published before the commit"
    assert len(callbacks) == 1
    assert published == [(action.pk, 0.0)]
    action.refresh_from_db()
    assert action.state == Action.State.QUEUED
    assert action.params == {"note": "hello", "contact_remote_id": contact.remote_id}
    assert action.safe is False
    assert action.requested_by == operator
    assert action.published_at is not None
    assert len(action.idempotency_key) == 32


def test_rollback_after_enqueue_leaves_no_row_and_publishes_nothing(
    connection, contact, published, django_capture_on_commit_callbacks
):
    def view() -> None:
        with transaction.atomic():
            enqueue(connection, contact)
            raise RuntimeError("the view failed after enqueueing")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        view()
    assert not Action.objects.exists()
    assert published == []


def test_enqueue_refuses_invalid_params_before_writing_anything(connection, published):
    with pytest.raises(InvalidAct) as caught:
        action_enqueue(operation="touch", connection=connection, params={}, user=None)
    assert "contact" in caught.value.errors
    with pytest.raises(InvalidAct) as caught:
        action_enqueue(
            operation="nope", connection=connection, params={"contact_remote_id": "1"}, user=None
        )
    assert "operation" in caught.value.errors
    assert not Action.objects.exists()
    assert published == []


def test_enqueue_checks_the_contact_against_the_connection(connection, contact, published):
    other = Connection.objects.create(name="Other", kind="allclients", base_url="https://x.test/")
    stranger = make_contacts(other, 1, start=99)[0]
    with pytest.raises(InvalidAct, match="another connection"):
        enqueue(connection, stranger)
    contact.deleted_at = timezone.now()
    contact.save()
    with pytest.raises(InvalidAct, match="no longer exists"):
        enqueue(connection, contact)
    assert not Action.objects.exists()


def test_enqueue_refuses_a_switched_off_connection(connection, contact, published):
    connection.is_active = False
    connection.save()
    with pytest.raises(InvalidAct, match="switched off"):
        enqueue(connection, contact)


def test_enqueue_uses_the_declared_checker_the_connector_uses(
    connection, contact, fake_crm, published
):
    def check(params, settings):  # type: ignore[no-untyped-def]
        if params.get("note") == "bad":
            raise InvalidParams({"note": ["Too bad."]})
        return params

    strict = checked_by(fake_crm, check)
    with pytest.raises(InvalidAct) as caught:
        enqueue(connection, contact, params={"note": "bad"})
    assert caught.value.errors == {"note": ["Too bad."]}
    # The connector checks with the very same declaration before it sends.
    with pytest.raises(InvalidParams) as refused:
        strict(connection.spec()).validate("touch", {"contact_remote_id": "1", "note": "bad"})
    assert refused.value.errors == {"note": ["Too bad."]}


def test_enqueue_builds_no_connector_and_decrypts_nothing(
    connection, contact, fake_crm, published, monkeypatch
):
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("no connector and no credential in a web request")

    monkeypatch.setattr(fake_crm, "__init__", refuse)
    monkeypatch.setattr(Connection, "get_secrets", refuse)
    assert enqueue(connection, contact).state == Action.State.QUEUED


def test_enqueue_with_the_same_idempotency_key_returns_the_first_action(
    connection, contact, published
):
    first = enqueue(connection, contact, idempotency_key="form-123")
    second = enqueue(connection, contact, idempotency_key="form-123")
    assert first.pk == second.pk
    assert Action.objects.count() == 1


def test_a_later_start_waits_in_the_database_not_in_the_broker(
    connection, contact, published, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        far = enqueue(connection, contact, not_before=later)
        near = enqueue(connection, contact, not_before=timezone.now() + timedelta(seconds=30))
    assert far.published_at is None
    assert far.not_before == later
    assert [pk for pk, _ in published] == [near.pk]
    assert 25 < published[0][1] <= 30


def test_safe_operations_are_recorded_as_safe(connection, contact, published):
    assert enqueue(connection, contact, operation="read").safe is True


# -- batch_enqueue ---------------------------------------------------------------------------
def test_batch_creates_one_action_per_contact_and_publishes_a_window(
    connection, operator, published, django_capture_on_commit_callbacks
):
    connection.rate_limit = 5
    connection.save()
    contacts = make_contacts(connection, 50)
    other = Connection.objects.create(name="Other", kind="allclients", base_url="https://x.test/")
    foreign = make_contacts(other, 3, start=500)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_enqueue(
            operation="touch",
            connection=connection,
            params={"note": "bulk"},
            user=operator,
            contact_ids=[c.pk for c in contacts + foreign],
        )
    assert batch.size == 50
    assert batch.totals == {"queued": 50}
    actions = Action.objects.filter(batch=batch)
    assert actions.count() == 50
    assert {a.params["contact_remote_id"] for a in actions} == {c.remote_id for c in contacts}
    # Only the connection's window (2 s of its rate, at least 4) is published at once.
    assert len(published) == 10
    assert actions.filter(published_at__isnull=False).count() == 10


def test_batch_leaves_out_contacts_the_checker_refuses(connection, fake_crm, published):
    contacts = make_contacts(connection, 5)

    def check(params, settings):  # type: ignore[no-untyped-def]
        if params["contact_remote_id"] == "3":
            raise InvalidParams({"contact_remote_id": ["Not this one."]})
        return params

    checked_by(fake_crm, check)
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    assert batch.size == 4
    assert list(batch.skipped) == ["3"]


def test_batch_refuses_bad_shared_params_before_writing(connection, published):
    contacts = make_contacts(connection, 3)
    with pytest.raises(InvalidAct):
        batch_enqueue(
            operation="nope",
            connection=connection,
            params={},
            user=None,
            contact_ids=[c.pk for c in contacts],
        )
    with pytest.raises(InvalidAct):
        batch_enqueue(operation="touch", connection=connection, params={}, user=None)
    assert not Batch.objects.exists()
    assert not Action.objects.exists()


def test_a_batch_of_ten_thousand_is_recorded_whole(connection, published):
    """Its speed is the load bench's row (the bulk confirmation of 2,000), and its query count
    the next test's; here every one of 10,000 contacts gets its action."""
    contacts = make_contacts(connection, 10_000)
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={"note": "bulk"},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    assert batch.size == 10_000
    actions = Action.objects.filter(batch=batch)
    assert actions.count() == 10_000
    assert set(actions.values_list("contact_id", flat=True)) == {c.pk for c in contacts}


def test_batch_queries_do_not_grow_with_its_contacts(connection, published):
    def queries_for(count: int, start: int) -> int:
        contacts = make_contacts(connection, count, start=start)
        with CaptureQueriesContext(db) as queries:
            batch = batch_enqueue(
                operation="touch", connection=connection, params={"note": "bulk"}, user=None,
                contact_ids=[c.pk for c in contacts],
            )  # fmt: skip
        assert batch.size == count
        return len(queries)

    # No query per action written, nor per contact read (only what the checks use is read).
    assert queries_for(3, start=1) == queries_for(300, start=100)


def test_batch_from_a_saved_search_takes_everyone_the_search_finds(connection, published):
    from crmhub.contacts.models import Contact, Person

    other = Connection.objects.create(name="Other", kind="apptivo", base_url="https://x.test/")
    jane = Person.objects.create(display_name="Jane")

    def contact(conn, remote_id, words, person=None):  # type: ignore[no-untyped-def]
        return Contact.objects.create(
            connection=conn,
            remote_id=remote_id,
            record_type="person",
            search_names=words,
            person=person,
        )

    found = contact(connection, "1", "acme smith")
    contact(other, "2", "acme jane", person=jane)  # found in another CRM...
    janes = contact(connection, "3", "jane doe", person=jane)  # ...so her contact here counts
    contact(connection, "4", "zeta jones")
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        search={"query": "acme", "filters": {}},
    )
    chosen = set(Action.objects.filter(batch=batch).values_list("contact_id", flat=True))
    assert chosen == {found.pk, janes.pk}
    assert batch.search_query == "acme"
    assert batch.contact_ids == sorted(chosen)  # resolved once, kept: never searched again
    narrowed = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        search={"query": "acme", "filters": {"connection_ids": [connection.pk]}},
    )
    assert narrowed.size == 1


def test_a_batch_runs_only_on_the_targets_its_preview_listed(connection, published):
    contacts = make_contacts(connection, 3)
    listed = targets_digest(c.pk for c in contacts[:2])
    with pytest.raises(TargetsChanged, match="3 contact"):
        batch_enqueue(
            operation="touch", connection=connection, params={}, user=None,
            contact_ids=[c.pk for c in contacts], expected=listed,
        )  # fmt: skip
    assert not Batch.objects.exists() and not Action.objects.exists()
    batch = batch_enqueue(
        operation="touch", connection=connection, params={}, user=None,
        contact_ids=[c.pk for c in contacts[:2]], expected=listed,
    )  # fmt: skip
    assert batch.contact_ids == [c.pk for c in contacts[:2]]
    assert set(Action.objects.filter(batch=batch).values_list("contact_id", flat=True)) == set(
        batch.contact_ids
    )


# -- resend, cancel, answer ------------------------------------------------------------------
def test_resend_links_a_new_action_and_refuses_a_second_pending_one(
    connection, contact, operator, published
):
    original = enqueue(connection, contact)
    with pytest.raises(ActionStateError, match="unknown or failed"):
        action_resend(action=original, user=operator)
    Action.objects.filter(pk=original.pk).update(state=Action.State.UNKNOWN)
    resent = action_resend(action=original, user=operator)
    assert resent.resend_of_id == original.pk
    assert resent.requested_by == operator
    assert resent.params == original.params
    assert resent.state == Action.State.QUEUED
    with pytest.raises(ActionStateError, match="Already resent"):
        action_resend(action=original, user=operator)
    Action.objects.filter(pk=resent.pk).update(state=Action.State.FAILED)
    assert action_resend(action=original, user=operator).resend_of_id == original.pk


def test_cancel_only_while_queued(connection, contact, operator, published):
    action = enqueue(connection, contact)
    cancelled = action_cancel(action=action, user=operator)
    assert cancelled.state == Action.State.CANCELLED
    assert "operator" in cancelled.error
    sending = enqueue(connection, contact)
    Action.objects.filter(pk=sending.pk).update(state=Action.State.SENDING)
    with pytest.raises(ActionStateError, match="Only a queued action"):
        action_cancel(action=sending, user=operator)


def test_batch_cancel_stops_what_is_still_queued(connection, published):
    contacts = make_contacts(connection, 4)
    batch = batch_enqueue(
        operation="touch",
        connection=connection,
        params={},
        user=None,
        contact_ids=[c.pk for c in contacts],
    )
    first = Action.objects.filter(batch=batch).first()
    Action.objects.filter(pk=first.pk).update(state=Action.State.SUCCEEDED)
    assert batch_cancel(batch=batch, user=None) == 3
    assert Action.objects.filter(batch=batch, state=Action.State.CANCELLED).count() == 3


def test_answer_only_a_waiting_prompt(connection, contact, operator, published):
    action = enqueue(connection, contact)
    with pytest.raises(ActionStateError):
        action_answer(action=action, values={"start": "1/2/2026"}, user=operator)
    Action.objects.filter(pk=action.pk).update(
        state=Action.State.NEEDS_INPUT,
        prompt={"prompt_id": "p1", "message": "Start date?", "fields": [{"name": "start"}]},
    )
    action.refresh_from_db()
    with pytest.raises(InvalidAct):
        action_answer(action=action, values={"other": "x"}, user=operator)
    with pytest.raises(ActionStateError):
        action_answer(action=action, values={"start": "x"}, user=operator, prompt_id="old")
    answered = action_answer(action=action, values={"start": "1/2/2026"}, user=operator)
    assert answered.answer == {"start": "1/2/2026"}
    with pytest.raises(ActionStateError):
        action_answer(action=action, values={"start": "again"}, user=operator)


def test_services_take_keyword_arguments_only():
    import inspect

    for name in (
        "action_enqueue",
        "batch_enqueue",
        "action_resend",
        "action_cancel",
        "action_answer",
    ):
        parameters = inspect.signature(getattr(services, name)).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), name


def test_secrets_are_never_action_parameters(connection, contact, published):
    with pytest.raises(InvalidAct) as caught:
        enqueue(connection, contact, params={"note": "x", "api_key": "sekrit"})
    assert set(caught.value.errors) == {"api_key"}
    assert not Action.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_broker_down_at_publish_time_still_queues_and_the_sweeper_publishes_later(
    connection, contact, monkeypatch, settings
):
    from crmhub.actions.sweeper import actions_sweep

    def broker_down(action_ids, *, countdown=None, queue=None):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("crmhub.actions.dispatch.publish", broker_down)
    action = enqueue(connection, contact)  # no error reaches the person who asked
    assert Action.objects.get(pk=action.pk).state == Action.State.QUEUED
    sent: list[int] = []
    monkeypatch.setattr(
        "crmhub.actions.dispatch.publish",
        lambda action_ids, countdown=None, queue=None: sent.extend(action_ids),
    )
    settings.CRMHUB_ACTION_REPUBLISH_SECONDS = 0
    actions_sweep()
    assert sent == [action.pk]
