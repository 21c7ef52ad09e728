"""Which queue an action goes to, and which plans bulk refuses (the admin's marks per
connection; a plan marked neither way may prompt)."""

from __future__ import annotations

import pytest

from crmhub.actions.errors import InvalidAct
from crmhub.actions.models import Action, Batch
from crmhub.actions.services import action_enqueue, batch_enqueue
from crmhub.connections.models import Connection
from crmhub.connectors.collect.declaration import CRM as COLLECT
from crmhub.contacts.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def collect(db) -> Connection:  # type: ignore[no-untyped-def]
    connection = Connection(
        name="Collections",
        kind="collect",
        base_url="https://collect.example.com/api/v1/",
        settings={"operator_id": "op", "prompting_plans": "PRM, DEL", "quiet_plans": "rev"},
    )
    connection.set_secrets({"password": "p-collect"})
    connection.save()
    return connection


@pytest.fixture
def debtors(collect: Connection) -> list[Contact]:
    return Contact.objects.bulk_create(
        Contact(connection=collect, remote_id=f"debtor:{n}", record_type="debtor")
        for n in range(1, 4)
    )


@pytest.mark.parametrize(
    ("settings", "plan", "prompts"),
    [
        ({"prompting_plans": "PRM, DEL"}, "PRM", True),
        ({"prompting_plans": "prm;del"}, "DEL", True),
        ({"quiet_plans": "REV BAL"}, "BAL", False),
        ({"prompting_plans": "REV", "quiet_plans": "REV"}, "REV", True),  # the safe reading
        ({"quiet_plans": "REV"}, "XYZ", None),
        ({}, "REV", None),
    ],
)
def test_the_admins_marks_say_whether_a_plan_prompts(settings, plan, prompts):
    operations = COLLECT.operations_by_name
    assert operations["run_plan"].may_prompt({"plan": plan}, settings=settings) is prompts
    assert operations["show_record"].may_prompt({"plan": plan}, settings=settings) is False


@pytest.mark.parametrize(
    ("plan", "queue"), [("PRM", "prompts"), ("REV", "actions"), ("XYZ", "prompts")]
)
def test_a_plan_that_may_prompt_goes_to_the_prompts_queue(
    collect, debtors, published, plan, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        action = action_enqueue(
            operation="run_plan",
            connection=collect,
            contact=debtors[0],
            params={"plan": plan},
            user=None,
        )
    assert action.queue == queue
    assert published.queues == {action.pk: queue}


def test_other_acts_go_to_the_actions_queue(
    connection, contact, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        action = action_enqueue(
            operation="touch", connection=connection, contact=contact, params={}, user=None
        )
    assert action.queue == "actions"
    assert published.queues == {action.pk: "actions"}


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ("PRM", "Plan PRM prompts for an answer, so it is never run in bulk"),
        ("XYZ", "Plan XYZ is not marked as one that never prompts on Collections"),
    ],
)
def test_bulk_refuses_a_plan_that_may_prompt(collect, debtors, plan, message):
    with pytest.raises(InvalidAct) as refused:
        batch_enqueue(
            operation="run_plan",
            connection=collect,
            params={"plan": plan},
            user=None,
            contact_ids=[c.pk for c in debtors],
        )
    assert list(refused.value.errors) == ["plan"]
    assert refused.value.errors["plan"][0].startswith(message)
    assert not Batch.objects.exists() and not Action.objects.exists()


def test_bulk_runs_a_plan_that_never_prompts_in_the_actions_queue(
    collect, debtors, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("crmhub.actions.dispatch.publish", lambda *a, **k: None)
    batch = batch_enqueue(
        operation="run_plan",
        connection=collect,
        params={"plan": "REV"},
        user=None,
        contact_ids=[c.pk for c in debtors],
    )
    assert batch.size == 3
    assert set(Action.objects.filter(batch=batch).values_list("queue", flat=True)) == {"actions"}
